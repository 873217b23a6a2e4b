/*
** main.c - the sandlua executable: a lua.c-compatible command line.
**
** main() parses the command line, creates the state and calls pmain() in
** protected mode; pmain() opens the libraries, runs -e/-l/-W in order, the
** script and the REPL.  Usage errors exit 2, script errors 1.
*/
#include "interp.h"
#include "diag.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../sandbox/env.h"
#include "../sandbox/libmem.h"
#include "../sandbox/limits.h"
#include "../sandbox/readpaths.h"
#include "../sandbox/sandbox.h"
#include "../security/audit.h"
#include "../security/policy.h"
#include "../stdlib/sched.h"
#include "../stdlib/sl.h"
#include "../stdlib/sl_security.h"
#include "../net/dns.h"
#include "../net/netmem.h"

#define LUA_INIT_VAR "LUA_INIT"
#define LUA_INITVARVERSION LUA_INIT_VAR LUA_VERSUFFIX

/* Flags seen on the command line (lua.c's has_* bits). */
enum {
  HAS_I = 2,      /* -i */
  HAS_V = 4,      /* -v */
  HAS_E = 8,      /* -e */
  HAS_BIGE = 16   /* -E */
};

/* Mode of every chunk sandlua loads: "t" (text only) in the sandbox, NULL
** (text or binary, as lua) with --unsafe-no-sandbox. */
static const char *chunkmode = "t";

/* {======================================================
** Reporting
** ======================================================= */

static void print_usage(FILE *f) {
  fprintf(f,
      "usage: " INTERP_PROGNAME " [options] [script [args]]\n"
      "       " INTERP_PROGNAME " policy lint|check|test ...  (see '"
      INTERP_PROGNAME " policy --help')\n"
      "Lua options (as lua 5.4):\n"
      "  -e stat                 execute string 'stat'\n"
      "  -i                      enter interactive mode after the script\n"
      "  -l mod, -l g=mod        require library 'mod' into global 'mod' "
      "(or 'g')\n"
      "  -v                      show version information\n"
      "  -E                      ignore environment variables\n"
      "  -W                      turn warnings on (warn; stderr, counted by\n"
      "                          --max-output)\n"
      "  --                      stop handling options\n"
      "  -                       stop handling options and execute stdin\n"
      "  In the sandbox LUA_INIT, LUA_PATH and LUA_CPATH are ignored (as\n"
      "  with -E); --module-path and --allow-read say where require looks.\n"
      "Policies (see man sandlua-policy):\n"
      "  --policy FILE           load a policy file (repeatable; default\n"
      "                          " INTERP_DEFAULT_POLICY ", else deny-all)\n"
      "  --allow-url PATTERN     allow websocket.connect(.url) to PATTERN "
      "(repeatable)\n"
      "  --actor ID              the actor the script runs as\n"
      "  --actor-meta K=V        an actor attribute (repeatable)\n"
      "  --audit-log FILE        append policy denials to FILE (JSON lines)\n"
      "  --audit-all             audit allowed decisions too\n"
      "  --allow-unknown         unknown policy actions/kinds only warn\n"
      "  --audit-log-max SIZE    bytes this run may add to it (default 64M;\n"
      "                          past it records are counted, then summed up)\n"
      "Network:\n"
      "  --dns-server ADDR[:PORT] resolve host names with this DNS server\n"
      "  --ca-file FILE          extra CA certificates for wss:// "
      "(repeatable)\n"
      "Sandbox (0 means no limit, but --max-connections 0 none):\n");
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    const sl_limit_info *li = &sl_limits[i];
    char opt[48], dflt[48] = "none";
    snprintf(opt, sizeof opt, "%s %s", li->option,
             sl_limit_metavar(li->kind));
    if (li->dflt != 0) sl_limit_format((sl_limit)i, li->dflt, dflt,
                                       sizeof dflt);
    fprintf(f, "  %-23s %s (default %s)\n", opt, li->help, dflt);
  }
  fprintf(f,
      "  --module-path DIR       where require finds Lua files (repeatable)\n"
      "  --allow-read PATH       io.open/io.lines/dofile/loadfile/require may\n"
      "                          read PATH (a file, or a directory tree);\n"
      "                          read-only, no symbolic links (repeatable)\n"
      "  --seccomp MODE          strict (default), log or off\n"
      "  --unsafe-no-sandbox     full standard library, no seccomp/Landlock\n"
      "Other:\n"
      "  --help                  show this help and exit\n"
      "  --version               show the versions of sandlua and its "
      "libraries\n");
}

static const char *progname = INTERP_PROGNAME;

static void l_message(const char *msg) {
  if (progname) fprintf(stderr, "%s: ", progname);
  interp_eputs(msg, 1);  /* a CR or an ESC from the script is shown */
  fputc('\n', stderr);
  fflush(stderr);
}

/* Print the message at the top of the stack when status is an error; a
** limit hit is reported as such, once. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK && sandbox_limits_hit() >= 0) {
    sandbox_limits_report();
    lua_pop(L, 1);
  } else if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    l_message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* }====================================================== */

/* {======================================================
** Running chunks
** ======================================================= */

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* SIGINT: only set a hook; a signal handler must not touch the state. */
static void laction(int i) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  signal(i, SIG_DFL);
  /* Lua code runs only in tasks: stop the running one, or the loop */
  lua_State *task = sl_sched_running_thread();
  if (task != NULL) lua_sethook(task, lstop, flag, 1);
  else sl_sched_interrupt();
}

/*
** Call the function below its narg arguments as the scheduler's main task:
** it returns when that task does; an error in any task comes back as a
** message with its traceback.
*/
static int docall(lua_State *L, int narg, int nres) {
  signal(SIGINT, laction);
  int status = sandbox_note_status(sl_sched_run(L, narg, nres));
  signal(SIGINT, SIG_DFL);
  return status;
}

/* A file (stdin when NULL): text only in the sandbox. */
static int loadfile(lua_State *L, const char *fname) {
  if (chunkmode == NULL) return luaL_loadfile(L, fname);
  return sandbox_loadfile(L, fname);
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbufferx(L, s, strlen(s), name, chunkmode));
}

/* -l [g=]mod: require mod into global g (or mod). */
static int dolibrary(lua_State *L, char *spec) {
  char *eq = strchr(spec, '=');
  char *modname = eq ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (eq) *eq = '\0';
    lua_setglobal(L, spec);
    if (eq) *eq = '=';
  }
  return report(L, status);
}

/* Push the script's arguments (arg[1..n]); returns n. */
static int pushargs(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -(n + 1));
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;  /* stdin */
  int status = loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

/* }====================================================== */

/* {======================================================
** Command line
** ======================================================= */

/*
** sandlua's own long options.  They stand among lua.c's options, before the
** script, and keep their place in `arg` (negative indices), as lua.c's do.
** `apply` returns NULL or a message for a bad value.
*/
typedef struct longopt {
  const char *name;
  int has_arg;
  const char *(*apply)(interp_config *cfg, const char *value);
} longopt;

static const char *opt_help(interp_config *cfg, const char *value) {
  (void)value;
  cfg->exit_now = 1;
  print_usage(stdout);
  return NULL;
}

static const char *opt_version(interp_config *cfg, const char *value) {
  (void)value;
  cfg->exit_now = 1;
  interp_print_version();
  return NULL;
}

static const char *opt_dns_server(interp_config *cfg, const char *value) {
  static char err[200];
  sl_dns_addr a;
  int port;
  if (sl_dns_parse_server(value, &a, &port, err, sizeof err) != 0) return err;
  cfg->dns_server = value;
  return NULL;
}

/* Error text of the last bad value (the returned message points here). */
static char optwhy[256];

static const char *limit_opt(interp_config *cfg, sl_limit which,
                             const char *value) {
  if (sandbox_limits_parse(&cfg->sandbox.limits, which, value,
                           SANDBOX_SOURCE_CLI, optwhy, sizeof optwhy) != 0)
    return optwhy;
  return NULL;
}

/* One option per limit (common/limits_table.h): opt_limit_MEMORY, ... */
#define LIMIT_OPT(id, ...)                                                \
  static const char *opt_limit_##id(interp_config *cfg,                  \
                                    const char *value) {                 \
    return limit_opt(cfg, SL_LIMIT_##id, value);                         \
  }
SL_LIMITS(LIMIT_OPT)
#undef LIMIT_OPT

static const char *opt_unsafe(interp_config *cfg, const char *value) {
  (void)value;
  cfg->sandbox.unsafe = 1;
  return NULL;
}

static const char *opt_seccomp(interp_config *cfg, const char *value) {
  sandbox_seccomp_mode mode;
  if (sandbox_seccomp_parse(value, &mode) != 0)
    return "must be strict, log or off";
  sandbox_config_set_seccomp(&cfg->sandbox, mode, SANDBOX_SOURCE_CLI);
  return NULL;
}

static const char *opt_module_path(interp_config *cfg, const char *value) {
  struct stat st;
  if (value[0] == '\0') return "empty path";
  if (stat(value, &st) != 0) {
    snprintf(optwhy, sizeof optwhy, "%s", strerror(errno));
    return optwhy;
  }
  if (!S_ISDIR(st.st_mode)) return "not a directory";
  if (cfg->sandbox.n_module_paths >= SANDBOX_MAX_PATHS)
    return "too many module paths";
  cfg->sandbox.module_paths[cfg->sandbox.n_module_paths++] = value;
  return NULL;
}

static const char *opt_allow_read(interp_config *cfg, const char *value) {
  struct stat st;
  if (value[0] == '\0') return "empty path";
  if (stat(value, &st) != 0) {
    snprintf(optwhy, sizeof optwhy, "%s", strerror(errno));
    return optwhy;
  }
  if (cfg->sandbox.n_read_paths >= SANDBOX_MAX_PATHS)
    return "too many paths";
  cfg->sandbox.read_paths[cfg->sandbox.n_read_paths++] = value;
  return NULL;
}

static const char *opt_ca_file(interp_config *cfg, const char *value) {
  if (value[0] == '\0') return "empty file name";
  FILE *f = fopen(value, "r");  /* missing or unreadable: say so now */
  if (f == NULL) {
    snprintf(optwhy, sizeof optwhy, "%s", strerror(errno));
    return optwhy;
  }
  fclose(f);
  if (cfg->n_ca_files >= (int)(sizeof cfg->ca_files / sizeof cfg->ca_files[0]))
    return "too many CA files (at most 16)";
  cfg->ca_files[cfg->n_ca_files++] = value;
  return NULL;
}

static const longopt longopts[] = {
  {"--help", 0, opt_help},
  {"--version", 0, opt_version},
  {"--policy", 1, interp_opt_policy},
  {"--allow-url", 1, interp_opt_allow_url},
  {"--actor", 1, interp_opt_actor},
  {"--actor-meta", 1, interp_opt_actor_meta},
  {"--audit-log", 1, interp_opt_audit_log},
  {"--audit-all", 0, interp_opt_audit_all},
  {"--allow-unknown", 0, interp_opt_allow_unknown},
  {"--audit-log-max", 1, interp_opt_audit_max},
  {"--dns-server", 1, opt_dns_server},
  {"--ca-file", 1, opt_ca_file},
#define LIMIT_LONGOPT(id, name, option, ...) {option, 1, opt_limit_##id},
  SL_LIMITS(LIMIT_LONGOPT)
#undef LIMIT_LONGOPT
  {"--module-path", 1, opt_module_path},
  {"--allow-read", 1, opt_allow_read},
  {"--seccomp", 1, opt_seccomp},
  {"--unsafe-no-sandbox", 0, opt_unsafe},
  {NULL, 0, NULL}
};

static const longopt *findlongopt(const char *arg) {
  for (const longopt *o = longopts; o->name; o++)
    if (strcmp(o->name, arg) == 0) return o;
  return NULL;
}

/*
** Scan the command line: lua.c's options (collected as has_* bits) and
** sandlua's long options (applied to cfg in order).  Sets cfg->script to the
** index of the script (argc when there is none).  Returns the bits, or -1
** after printing a usage error.
*/
static int collectargs(int argc, char **argv, interp_config *cfg) {
  int args = 0;
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    cfg->script = i;
    if (a[0] != '-') return args;  /* the script */
    switch (a[1]) {
      case '-': {
        if (a[2] == '\0') {  /* '--' */
          cfg->script = i + 1;
          return args;
        }
        const longopt *o = findlongopt(a);
        if (o == NULL)
          return interp_usage_error(INTERP_PROGNAME,
                                    "unrecognized option '%s'", a), -1;
        const char *value = NULL;
        if (o->has_arg) {
          if (++i >= argc)
            return interp_usage_error(INTERP_PROGNAME, "'%s' needs a value",
                                      a), -1;
          value = argv[i];
        }
        const char *why = o->apply(cfg, value);
        if (why != NULL) {
          interp_errorf(INTERP_PROGNAME ": %s %s: %s", a, value ? value : "",
                  why);
          return -1;
        }
        if (cfg->exit_now) return args;
        break;
      }
      case '\0':  /* '-' */
        return args;
      case 'E':
      case 'W':
      case 'i':
      case 'v':
        if (a[2] != '\0')
          return interp_usage_error(INTERP_PROGNAME,
                                    "unrecognized option '%s'", a), -1;
        if (a[1] == 'E') args |= HAS_BIGE;
        if (a[1] == 'i') args |= HAS_I | HAS_V;  /* -i implies -v */
        if (a[1] == 'v') args |= HAS_V;
        break;
      case 'e':
      case 'l':
        if (a[1] == 'e') args |= HAS_E;
        if (a[2] == '\0') {
          i++;
          if (i >= argc || argv[i][0] == '-')
            return interp_usage_error(INTERP_PROGNAME,
                                      "'%s' needs an argument", a), -1;
        }
        break;
      default:
        return interp_usage_error(INTERP_PROGNAME,
                                  "unrecognized option '%s'", a), -1;
    }
  }
  cfg->script = i;
  return args;
}

/* Run -e, -l and -W in the order given. */
static int runargs(lua_State *L, char **argv, int n) {
  for (int i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
      case 'e':
      case 'l': {
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        int status = option == 'e'
                         ? dostring(L, extra, "=(command line)")
                         : dolibrary(L, extra);
        if (status != LUA_OK) return 0;
        break;
      }
      case 'W':
        lua_warning(L, "@on", 0);
        break;
      case '-': {  /* a long option: skip its value */
        const longopt *o = findlongopt(argv[i]);
        if (o != NULL && o->has_arg) i++;
        break;
      }
      default:
        break;
    }
  }
  return 1;
}

/* arg: script at 0, what comes before it negative, its arguments 1..n. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0;  /* no script: arg[0] is the program */
  int narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int handle_luainit(lua_State *L) {
  const char *name = "=" LUA_INITVARVERSION;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=" LUA_INIT_VAR;
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
  return dostring(L, init, name);
}

/* }====================================================== */

/* {======================================================
** REPL (as lua.c; line editing and history from libedit on a terminal)
** ======================================================= */

#define MAXINPUT 512

/*
** Line editing: libedit's readline (BSD licence), loaded with dlopen
** before the lockdown, and only when the REPL will read a terminal, so a
** script pays nothing for it (no library to load at start-up).  It reads
** its terminal description then; afterwards it needs read, write and the
** terminal ioctls (TCGETS, TCSETS*, TIOCGWINSZ), which the filter allows.
** History is kept in memory only (nothing is written in the sandbox).
** Without libedit the REPL reads plain lines, as lua.c without readline.
*/
static char *(*ed_readline)(const char *prompt);
static int (*ed_add_history)(const char *line);

static void edit_init(void) {
  void *h = dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) return;
  /* libedit's signal handling re-sends a caught signal with kill(0, ...),
  ** which the filter refuses (only this process may be signalled): off,
  ** so Ctrl-C at the prompt ends the REPL as it ends lua5.4's */
  int *catch_signals = (int *)dlsym(h, "rl_catch_signals");
  if (catch_signals != NULL) *catch_signals = 0;
  int (*init)(void) = (int (*)(void))dlsym(h, "rl_initialize");
  ed_readline = (char *(*)(const char *))dlsym(h, "readline");
  ed_add_history = (int (*)(const char *))dlsym(h, "add_history");
  if (ed_readline == NULL || ed_add_history == NULL || init == NULL ||
      init() != 0)
    ed_readline = NULL;
}

static const char *get_prompt(lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
    lua_pop(L, 1);
    return firstline ? "> " : ">> ";
  }
  const char *p = luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);
  lua_pop(L, 1);  /* the string stays referenced by the global */
  return p;
}

/* Read a line into a new string at the top; returns 0 at end of input. */
static int pushline(lua_State *L, int firstline) {
  char buffer[MAXINPUT];
  const char *prompt = get_prompt(L, firstline);
  if (ed_readline != NULL) {
    fflush(stdout);
    char *b = ed_readline(prompt);
    if (b == NULL) return 0;
    lua_pushstring(L, b);
    if (b[0] != '\0') ed_add_history(b);
    free(b);
    return 1;
  }
  fputs(prompt, stdout);
  fflush(stdout);
  if (fgets(buffer, sizeof buffer, stdin) == NULL) return 0;
  size_t l = strlen(buffer);
  if (l > 0 && buffer[l - 1] == '\n') buffer[--l] = '\0';
  lua_pushlstring(L, buffer, l);
  return 1;
}

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    static const char eof[] = "<eof>";
    if (lmsg >= sizeof eof - 1 &&
        strcmp(msg + lmsg - (sizeof eof - 1), eof) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* Try the line as "return <line>"; on success leave the chunk. */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbufferx(L, retline, strlen(retline), "=stdin",
                                chunkmode);
  if (status == LUA_OK)
    lua_remove(L, -2);  /* the modified line */
  else
    lua_pop(L, 2);      /* the result and the modified line */
  return status;
}

static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbufferx(L, line, len, "=stdin", chunkmode);
    if (!incomplete(L, status) || !pushline(L, 0)) return status;
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Read and compile one statement; returns -1 at end of input. */
static int loadline(lua_State *L) {
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  if (strchr(lua_tostring(L, 1), '\033') != NULL) {
    /* a terminal's escape sequence (an arrow key without line editing):
    ** say so, instead of Lua's "attempt to load a binary chunk" */
    lua_pushliteral(L, "the line holds a terminal escape sequence (arrow "
                       "keys need line editing: install libedit2)");
    lua_remove(L, 1);
    return LUA_ERRSYNTAX;
  }
  int status = addreturn(L);
  if (status != LUA_OK) status = multiline(L);
  lua_remove(L, 1);  /* the line */
  return status;
}

static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(lua_pushfstring(L, "error calling 'print' (%s)",
                                lua_tostring(L, -1)));
  }
}

static void doREPL(lua_State *L) {
  int status;
  const char *oldprogname = progname;
  progname = NULL;  /* as lua.c: no program name before REPL errors */
  while (sandbox_limits_hit() < 0 && (status = loadline(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      l_print(L);
    else
      report(L, status);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = oldprogname;
}

/* }====================================================== */

static void print_lua_version(void) {
  fputs(LUA_COPYRIGHT "\n", stdout);
  fflush(stdout);
}

/*
** Which walls are up: one line on stderr for a filter that is off or only
** logs (Landlock's own warnings are printed by the lock-down), and the
** audit log's first record, {"event":"sandbox", every layer and its state}.
*/
static void report_layers(interp_config *cfg, const sandbox_status *st) {
  const sandbox_config *sb = &cfg->sandbox;
  static const char *const modes[] = {
    [SANDBOX_SECCOMP_STRICT] = "strict", [SANDBOX_SECCOMP_LOG] = "log",
    [SANDBOX_SECCOMP_OFF] = "off"};
  const char *seccomp = sb->unsafe ? "off" : modes[sb->seccomp];
  if (!sb->unsafe && sb->seccomp == SANDBOX_SECCOMP_OFF)
    l_message("warning: sandbox: seccomp off (--seccomp off): system calls "
              "are not filtered");
  else if (!sb->unsafe && sb->seccomp == SANDBOX_SECCOMP_LOG)
    l_message("warning: sandbox: seccomp log (--seccomp log): refused "
              "system calls are logged by the kernel, not stopped");
  if (cfg->audit == NULL) return;
  char abi[16] = "off";
  if (st->landlock_abi > 0) snprintf(abi, sizeof abi, "%d", st->landlock_abi);
  const char *kv[] = {
    "actor", cfg->policies ? cfg->policies->actor.id : NULL,
    "environment", sb->unsafe ? "off (--unsafe-no-sandbox)" : "on",
    "seccomp", seccomp,
    "landlock_abi", abi,
    "landlock_network", st->landlock_net ? "on" : "off",
    "rlimits", sb->unsafe ? "limits only" : "on",
  };
  policy_audit_record(cfg->audit, "sandbox", kv, 6);
}

/*
** Start-up step 6 (DESIGN.md): lock the process down and arm the limits'
** timers; returns 0 (with cfg->exit_code set) when the script must not run.
*/
static int lockdown(interp_config *cfg) {
  char err[256] = "";
  sandbox_status st;
  if (cfg->script < cfg->argc && strcmp(cfg->argv[cfg->script], "-") != 0)
    cfg->sandbox.script = cfg->argv[cfg->script];
  if (cfg->audit != NULL) {
    /* a refused system call is audited by the SIGSYS handler */
    const char *id = cfg->policies ? cfg->policies->actor.id : NULL;
    char actor[160] = "null", script[320] = "null", fields[560];
    if (id != NULL) policy_json_quote(id, actor, sizeof actor);
    if (cfg->sandbox.script != NULL)
      policy_json_quote(cfg->sandbox.script, script, sizeof script);
    snprintf(fields, sizeof fields, "\"run\":\"%s\",\"actor\":%s,"
             "\"script\":%s", cfg->audit->run, actor, script);
    cfg->sandbox.log_fd = fileno(cfg->audit->f);
    cfg->sandbox.log_room = policy_audit_size(cfg->audit) + cfg->audit->max;
    sandbox_seccomp_audit(cfg->sandbox.log_fd, fields);
  }
  int rc = sandbox_limits_start();
  if (rc != 0) {
    interp_errorf(INTERP_PROGNAME ": sandbox: cannot arm the limits' "
            "timers: %s", strerror(-rc));
    cfg->exit_code = SL_EXIT_SANDBOX;
    return 0;
  }
  interp_net(cfg);
  rc = sandbox_lockdown(&cfg->sandbox, &st, err, sizeof err);
  if (st.warning[0] != '\0') l_message(st.warning);
  if (rc != 0) {
    interp_errorf(INTERP_PROGNAME ": sandbox: %s; refusing to run the "
            "script (--seccomp off runs it without the filter)", err);
    cfg->exit_code = SL_EXIT_SANDBOX;
    return 0;
  }
  report_layers(cfg, &st);
  return 1;
}

/*
** The safe environment.  require searches the --module-path directories,
** then the script's own directory when an --allow-read directory holds it,
** then the --allow-read directories.  Returns 0 (cfg->exit_code set) when
** the script must not run.
*/
static int apply_env(lua_State *L, interp_config *cfg) {
  sandbox_config *sb = &cfg->sandbox;
  static const char *mods[2 * SANDBOX_MAX_PATHS + 1];
  static char scriptdir[PATH_MAX];
  size_t n = 0;
  if (sb->n_read_paths > 0) {
    char err[PATH_MAX + 64];
    const char *canon[SANDBOX_MAX_PATHS];
    if (sandbox_read_init(sb->read_paths, sb->n_read_paths, canon, err,
                          sizeof err) != 0) {
      interp_errorf(INTERP_PROGNAME ": %s", err);
      cfg->exit_code = SL_EXIT_USAGE;
      return 0;
    }
    for (size_t i = 0; i < sb->n_read_paths; i++) sb->read_paths[i] = canon[i];
  }
  for (size_t i = 0; i < sb->n_module_paths; i++) mods[n++] = sb->module_paths[i];
  if (sb->n_read_paths > 0 && cfg->script < cfg->argc &&
      strcmp(cfg->argv[cfg->script], "-") != 0) {
    char *rp = realpath(cfg->argv[cfg->script], NULL);
    char *slash = rp ? strrchr(rp, '/') : NULL;
    if (slash != NULL) {
      *slash = '\0';
      snprintf(scriptdir, sizeof scriptdir, "%s", rp[0] ? rp : "/");
      for (size_t i = 0; i < sandbox_read_count(); i++) {
        int isdir;
        const char *root = sandbox_read_root(i, &isdir);
        size_t rl = strlen(root);
        if (isdir && (strcmp(root, "/") == 0 ||
                      (strncmp(scriptdir, root, rl) == 0 &&
                       (scriptdir[rl] == '\0' || scriptdir[rl] == '/')))) {
          mods[n++] = scriptdir;
          break;
        }
      }
    }
    free(rp);
  }
  for (size_t i = 0; i < sandbox_read_count(); i++) {
    int isdir;
    const char *root = sandbox_read_root(i, &isdir);
    if (isdir) mods[n++] = root;
  }
  sandbox_env_apply(L, mods, n);
  return 1;
}

/*
** The protected main: the configuration as light userdata.  Returns true on
** success (lua.c's contract).
*/
static int pmain(lua_State *L) {
  interp_config *cfg = (interp_config *)lua_touserdata(L, 1);
  int argc = cfg->argc, script = cfg->script, args = cfg->args;
  char **argv = cfg->argv;
  luaL_checkversion(L);
  if (args & HAS_V) print_lua_version();
  if (args & HAS_BIGE) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  sl_openlibs(L);
  sl_security_install(L, cfg->policies, cfg->audit);
  {
    /* the event loop, CA files and resolver, before the lockdown; the
       descriptor limit first, the event loop sizes its tables by it */
    char err[300];
    if (sandbox_limit_files(&cfg->sandbox, err, sizeof err) != 0) {
      interp_errorf(INTERP_PROGNAME ": sandbox: %s", err);
      cfg->exit_code = SL_EXIT_SANDBOX;
      return 0;
    }
    int prc = sl_websocket_prepare(L, cfg->dns_server, cfg->ca_files,
                                   cfg->n_ca_files, err, sizeof err);
    if (prc == -2) {  /* --ca-file: a command-line error */
      interp_errorf(INTERP_PROGNAME ": %s", err);
      cfg->exit_code = SL_EXIT_USAGE;
      return 0;
    }
    if (prc != 0) return luaL_error(L, "websocket: %s", err);
  }
  /*
  ** SIGPIPE as lua5.4 has it: a write to a pipe nobody reads any more
  ** ends the process by the signal (141 in the shell), so `sandlua s.lua |
  ** head -1` stops at once instead of printing into the void.  The event
  ** loop's library had set it to ignored; every socket write (WebSocket,
  ** DNS over TCP) passes MSG_NOSIGNAL, so a peer that went away is an error
  ** of that connection, never this signal.  Set after the event loop is
  ** made, before the lockdown.
  */
  signal(SIGPIPE, SIG_DFL);
  if (!cfg->sandbox.unsafe && !apply_env(L, cfg)) return 0;
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (cfg->sandbox.unsafe && !(args & HAS_BIGE) && handle_luainit(L) != LUA_OK)
    return 0;
  if (isatty(0) && ((args & HAS_I) ||
                    (script == argc && !(args & (HAS_E | HAS_V)))))
    edit_init();  /* the REPL will read the terminal */
  if (!lockdown(cfg)) return 0;
  if (!runargs(L, argv, script)) return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK) return 0;
  if (args & HAS_I) {
    doREPL(L);
  } else if (script == argc && !(args & (HAS_E | HAS_V))) {
    if (isatty(0)) {
      print_lua_version();
      doREPL(L);
    } else {
      dochunk(L, loadfile(L, NULL));
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/*
** Feed the policies' `sandbox:` section to the sandbox settings; the
** command line, parsed before, wins.  Returns 0 or SL_EXIT_POLICY.
*/
static int apply_policy_sandbox(interp_config *cfg) {
  const policy_sandbox *ps = &cfg->policies->sandbox;
  char err[256];
  for (int i = 0; i < SL_LIMIT_COUNT; i++) {
    if (!ps->set[i]) continue;
    if (sandbox_limits_set(&cfg->sandbox.limits, (sl_limit)i,
                           ps->value[i], SANDBOX_SOURCE_POLICY, err,
                           sizeof err) != 0) {
      interp_errorf(INTERP_PROGNAME ": policy sandbox section: %s: %s",
              sl_limits[i].key, err);
      return SL_EXIT_POLICY;
    }
  }
  if (ps->seccomp_set) {
    static const sandbox_seccomp_mode modes[] = {
      [POLICY_SECCOMP_STRICT] = SANDBOX_SECCOMP_STRICT,
      [POLICY_SECCOMP_LOG] = SANDBOX_SECCOMP_LOG,
      [POLICY_SECCOMP_OFF] = SANDBOX_SECCOMP_OFF,
    };
    sandbox_config_set_seccomp(&cfg->sandbox, modes[ps->seccomp],
                               SANDBOX_SOURCE_POLICY);
  }
  return SL_EXIT_OK;
}

/* A limit that ended the script goes to the audit log too, with the actor
** and the script: {"event":"limit","limit":"memory","value":"256M",...}. */
static void audit_limit(interp_config *cfg, sl_limit hit) {
  if (cfg->audit == NULL) return;
  char value[48];
  sl_limit_format(hit, cfg->sandbox.limits.value[hit], value, sizeof value);
  const char *kv[] = {
    "actor", cfg->policies ? cfg->policies->actor.id : NULL,
    "limit", sl_limits[hit].name,
    "value", value,
    "script", cfg->sandbox.script,
  };
  policy_audit_record(cfg->audit, "limit", kv, 4);
}

/* The scheduler runs every thread; the limits see each switch. */
static const sl_sched_hooks limit_hooks = {
  sandbox_hook_thread, sandbox_enter, sandbox_leave, sandbox_check,
  sandbox_note_status,
};

/* The libraries allocate through the sandbox's counted allocator. */
static const net_mem counted_mem = {
  sandbox_libmem_realloc, sandbox_memory_uncounted_begin,
  sandbox_memory_uncounted_end,
};

int main(int argc, char **argv) {
  sl_sched_set_hooks(&limit_hooks);
  signal(SIGXFSZ, SIG_IGN);  /* past RLIMIT_FSIZE a write fails, EFBIG */
  if (net_mem_init(&counted_mem) != 0) {  /* before OpenSSL allocates */
    l_message("cannot count OpenSSL's memory: it allocated before main");
    return SL_EXIT_SANDBOX;
  }
  interp_config cfg;
  memset(&cfg, 0, sizeof cfg);
  sandbox_config_init(&cfg.sandbox);
  cfg.argc = argc;
  cfg.argv = argv;
  if (argc > 1 && strcmp(argv[1], "policy") == 0)
    return interp_policy_main(argc - 1, argv + 1);
  cfg.args = collectargs(argc, argv, &cfg);
  int rc = cfg.args < 0 ? SL_EXIT_USAGE : SL_EXIT_OK;
  if (rc == SL_EXIT_OK && !cfg.exit_now) rc = interp_policy_load(&cfg);
  if (rc == SL_EXIT_OK && !cfg.exit_now) rc = apply_policy_sandbox(&cfg);
  if (rc != SL_EXIT_OK || cfg.exit_now) {
    interp_policy_free(&cfg);
    return rc;
  }
  if (cfg.sandbox.unsafe) {
    chunkmode = NULL;
    l_message("warning: --unsafe-no-sandbox: full standard library, no "
              "system call filter, no Landlock");
  }
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message("cannot create state: not enough memory");
    interp_policy_free(&cfg);
    return SL_EXIT_SCRIPT;
  }
  if (sandbox_limits_attach(L, &cfg.sandbox.limits) != 0) {
    l_message("cannot set up the limits");
    lua_close(L);
    return SL_EXIT_SCRIPT;
  }
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &cfg);
  int status = sandbox_note_status(lua_pcall(L, 1, 1, 0));
  int ok = lua_toboolean(L, -1);
  report(L, status);
  if (sandbox_limits_hit() < 0) {
    /* the script is over: closing its connections is not its time */
    sandbox_limits_grace(1);
    sl_websocket_shutdown(L);
    sandbox_limits_grace(0);
  }
  sandbox_env_closing();
  sandbox_limits_closing();
  lua_close(L);  /* finalizers run with the limits in force */
  sandbox_read_free();
  int hit = sandbox_limits_hit();
  if (hit >= 0) audit_limit(&cfg, (sl_limit)hit);
  interp_policy_free(&cfg);
  if (hit >= 0) {
    sandbox_limits_report();
    return sl_limits[hit].exit_code;
  }
  if (cfg.exit_code != 0) return cfg.exit_code;
  return (ok && status == LUA_OK) ? SL_EXIT_OK : SL_EXIT_SCRIPT;
}
