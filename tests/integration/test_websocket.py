"""The websocket module against real servers (wsservers.py) over TCP and
TLS: every option, compression, subprotocols, headers, big messages, many
connections, slow consumers, every close path, handshake failures, TLS
failures, DNS through a fake server, and the policy gate."""
import json
import os
import textwrap
import time

import pytest

from wsservers import OP_TEXT, close_frame, frame

HERE = os.path.dirname(os.path.abspath(__file__))


def max_conn_opts(sandlua, n=2000):
    """--max-connections N when this sandlua has the sandbox's limit (its
    default, 64, is below what some tests open at once)."""
    import subprocess
    r = subprocess.run([sandlua, "--help"], capture_output=True, text=True)
    return ["--max-connections", str(n)] if "--max-connections" in r.stdout \
        else []


@pytest.fixture
def lua(run, tmp_path):
    """lua(script, *args, allow=[patterns], opts=[...]) -> CompletedProcess
    of sandlua running the script (dedented) with --allow-url per pattern."""
    def _lua(script, *args, allow=(), opts=(), timeout=60):
        path = tmp_path / "s.lua"
        path.write_text(textwrap.dedent(script))
        argv = list(opts)
        for a in allow:
            argv += ["--allow-url", a]
        return run(*argv, str(path), *[str(a) for a in args], timeout=timeout)
    return _lua


def ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def allow_port(srv):
    return [f"{srv.scheme}://127.0.0.1:{srv.port}/*",
            f"{srv.scheme}://localhost:{srv.port}/*"]


ECHO = """
local websocket = require("websocket")
local c, err = websocket.connect(arg[1], OPTS)
if not c then print("ERR", err:kind(), err:retryable(), err:message()) return end
"""


def echo_script(opts="{}", body=""):
    return ECHO.replace("OPTS", opts) + textwrap.dedent(body)


# ------------------------------------------------------------------ basics

def test_echo_text_binary_channel(lua, echo_server):
    out = ok(lua(echo_script(body="""
        assert(c:channel() == c:channel() and c:receive() == c:channel())
        assert(c:send("hello") == true)
        local m, okr = c:channel():receive()
        print(m.type, m.data, okr)
        assert(c:send("\\0\\1\\2\\255", websocket.BINARY))
        m = c:channel():receive()
        print(m.type, #m.data, m.data == "\\0\\1\\2\\255")
        print(c:ping())
        print(c:protocol())
        print(c:close_status())
        local s, e = c:send("x", 7)
        print(s, e:kind())
        print(tostring(c):match("open"))
        print(c:close())
        local st = c:close_status()
        print(st.code, st.clean, st.by, st.error)
        print(c:channel():receive())
        local s2, e2 = c:send("late")
        print(s2, e2:kind(), e2:retryable())
        print(c:close())
    """), echo_server.url("/p?q=1"), allow=allow_port(echo_server)))
    assert out.splitlines() == [
        "text\thello\ttrue", "binary\t4\ttrue", "true", "nil", "nil",
        "false\tINVALID", "open", "true", "1000\ttrue\tclient\tnil",
        "nil\tfalse", "false\tINTERNAL\tfalse", "true"]
    echo_server.wait_closed()
    info = echo_server.connections[0]
    assert info.path == "/p?q=1"
    assert info.close_code == 1000


def test_headers_and_subprotocols(lua, ws_servers):
    srv = ws_servers.echo(subprotocols=["v2", "chat"])
    out = ok(lua(echo_script(
        '{headers = {Authorization = "Bearer t0k", ["X-Trace"] = "a b"},'
        ' protocols = {"chat", "v2"}}', """
        print(c:protocol())
        c:close()
    """), srv.url(), allow=allow_port(srv)))
    info = srv.connections[0]
    assert out.strip() == info.subprotocol and info.subprotocol in ("chat", "v2")
    assert info.header("Authorization") == "Bearer t0k"
    assert info.header("X-Trace") == "a b"
    assert info.header("Sec-WebSocket-Protocol") == "chat, v2"
    assert info.header("Host") == f"127.0.0.1:{srv.port}"
    # no subprotocol chosen by the server: protocol() is nil
    srv2 = ws_servers.echo()
    out = ok(lua(echo_script('{protocols = {"chat"}}', "print(c:protocol())"),
                 srv2.url(), allow=allow_port(srv2)))
    assert out.strip() == "nil"


@pytest.mark.parametrize("mode,want", [
    ("websocket.COMPRESSION.CONTEXT_TAKEOVER", "permessage-deflate"),
    ('"no_context_takeover"', "client_no_context_takeover"),
    ("websocket.COMPRESSION.DISABLED", None),
])
def test_compression(lua, echo_server, mode, want):
    out = ok(lua(echo_script(f"{{compression = {mode}}}", """
        local big = string.rep("compress me ", 5000)
        for i = 1, 3 do
          assert(c:send(big .. i))
          local m = c:channel():receive()
          assert(m.data == big .. i, "echo mismatch")
        end
        c:send("!stream 3 2000")
        for i = 0, 2 do
          local m = c:channel():receive()
          assert(m.data:sub(1, 2) == i .. ":")
        end
        print("done")
        c:close()
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.strip() == "done"
    ext = echo_server.connections[0].extensions
    if want is None:
        assert ext is None
    else:
        assert ext is not None and "permessage-deflate" in ext and want in ext


def test_16mib_messages(lua, echo_server):
    out = ok(lua(echo_script("{}", """
        local big = string.rep("0123456789abcdef", 1024 * 1024)  -- 16 MiB
        assert(c:send(big, websocket.BINARY))
        local m = c:channel():receive()
        print(#m.data, m.data == big, m.type)
        c:send("!binary 16777216")
        m = c:channel():receive()
        print(#m.data)
        c:close()
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.splitlines() == ["16777216\ttrue\tbinary", "16777216"]


def test_read_limit(lua, echo_server):
    out = ok(lua(echo_script("{read_limit = 1000}", """
        c:send("!binary 999")
        print(#c:channel():receive().data)
        c:send("!binary 1001")
        print(c:channel():receive())
        local st, err = c:close_status()
        print(st.code, st.clean, err:kind(), err:message():match("too big") ~= nil)
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.splitlines() == ["999", "nil\tfalse",
                                "1009\tfalse\tINTERNAL\ttrue"]
    echo_server.wait_closed()
    assert echo_server.connections[0].close_code == 1009


def test_many_connections(lua, echo_server, sandlua):
    out = ok(lua("""
        local websocket = require("websocket")
        local N = 1000
        local done = channel.new(N)
        for i = 1, N do
          coroutine.spawn(function()
            local c, err = websocket.connect(arg[1])
            if not c then done:send("ERR " .. tostring(err)) return end
            c:send("m" .. i)
            local m = c:channel():receive()
            done:send(m.data == "m" .. i and "ok" or "bad")
            -- stay open until everybody is connected
            local m2 = c:channel():receive()
            c:close()
          end)
        end
        local n = 0
        for i = 1, N do
          local v = done:receive()
          if v == "ok" then n = n + 1 else print(v) end
        end
        print(n)
    """, echo_server.url(), allow=allow_port(echo_server), timeout=90,
        opts=max_conn_opts(sandlua)))
    assert out.strip().splitlines()[-1] == "1000"
    assert echo_server.accepted == 1000


def test_slow_consumer_bounded_memory(lua, echo_server):
    out = ok(lua(echo_script("{channel_capacity = 8}", """
        local N = 100000
        c:send("!stream " .. N .. " 64")
        local ch = c:channel()
        local maxmem = 0
        for i = 0, N - 1 do
          local m = ch:receive()
          local want = i .. ":"
          if m.data:sub(1, #want) ~= want then error("out of order at " .. i) end
          if i % 500 == 0 then
            time.sleep("1ms")   -- slow consumer: the channel fills up
            collectgarbage()
            local kb = collectgarbage("count")
            if i > 1000 and kb > maxmem then maxmem = kb end
          end
        end
        print("all", N, maxmem < 4096)
        c:close()
    """), echo_server.url(), allow=allow_port(echo_server), timeout=120))
    assert out.strip() == "all\t100000\ttrue"


# ------------------------------------------------------------- close paths

def test_peer_close_with_code(lua, echo_server):
    out = ok(lua(echo_script("{}", """
        c:send("!close 4001 see you")
        print(c:channel():receive())
        local st, err = c:close_status()
        print(st.code, st.reason, st.clean, st.by, err)
        print(c:close())
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.splitlines() == ["nil\tfalse", "4001\tsee you\ttrue\tserver\tnil",
                                "true"]


def test_client_close_code_reason(lua, echo_server):
    out = ok(lua(echo_script("{}", """
        for _, bad in ipairs({999, 5000, 1005, 1006, 1015, 1004, 2000}) do
          local s, e = c:close(bad)
          io.write(tostring(s), " ", e:kind(), ";")
        end
        print()
        local s, e = c:close(1000, string.rep("r", 124))
        print(s, e:kind())
        s, e = c:close("x")
        print(s, e:kind())
        print(c:close(websocket.CLOSE_CODES.INTERNAL_ERROR, "Processing failed"))
        print(c:close_status().code)
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.splitlines() == [
        "false INVALID;" * 7, "false\tINVALID", "false\tINVALID", "true",
        "1011"]
    echo_server.wait_closed()
    assert echo_server.connections[0].close_code == 1011
    assert echo_server.connections[0].close_reason == "Processing failed"


def test_exit_closes_with_1001(lua, echo_server):
    ok(lua(echo_script("{}", """
        c:send("hi")
        c:channel():receive()
    """), echo_server.url(), allow=allow_port(echo_server)))
    echo_server.wait_closed()
    assert echo_server.connections[0].close_code == 1001


def test_abrupt_disconnect(lua, ws_servers):
    srv = ws_servers.drop(messages=["one", "two"], mode="rst")
    out = ok(lua(echo_script("{}", """
        local ch = c:channel()
        while true do
          local m, okr = ch:receive()
          if not okr then break end
          print(m.data)
        end
        local st, err = c:close_status()
        print(st.code, st.clean, st.by, err:kind(), err:retryable())
    """), srv.url(), allow=allow_port(srv)))
    assert out.splitlines() == ["one", "two",
                                "1006\tfalse\tnil\tINTERNAL\ttrue"]


def test_read_timeout(lua, ws_servers):
    srv = ws_servers.silent()
    out = ok(lua(echo_script('{read_timeout = "300ms"}', """
        local t0 = time.now()
        print(c:channel():receive())
        local st, err = c:close_status()
        print(st.code, err:kind(), err:retryable(), err:message():match("read timeout") ~= nil)
    """), srv.url(), allow=allow_port(srv)))
    assert out.splitlines() == ["nil\tfalse", "1001\tTIMEOUT\ttrue\ttrue"]


def test_write_timeout(lua, ws_servers):
    # a server that never reads: sends block, then time out
    from wsservers import ScriptedServer
    srv = ws_servers.scripted(ScriptedServer.steps(("sleep", 10)))
    out = ok(lua(echo_script('{write_timeout = 300}', """
        local big = string.rep("x", 1 << 20)
        local s, err
        for i = 1, 200 do
          s, err = c:send(big, websocket.BINARY)
          if not s then break end
        end
        print(s, err:kind(), err:message():match("write timeout") ~= nil)
    """), srv.url(), allow=allow_port(srv)))
    assert out.splitlines() == ["false\tTIMEOUT\ttrue"]


# ------------------------------------------------------ connect failures

def test_handshake_refused_403(lua, ws_servers):
    srv = ws_servers.http(403)
    out = ok(lua(echo_script(), srv.url(), allow=allow_port(srv)))
    assert out.startswith("ERR\tINTERNAL\ttrue\t")
    assert "HTTP 403" in out


def test_redirect_not_followed(lua, ws_servers):
    target = ws_servers.echo()
    srv = ws_servers.redirect(target.url("/elsewhere"))
    out = ok(lua(echo_script(), srv.url(),
                 allow=allow_port(srv) + allow_port(target)))
    assert "HTTP 302" in out and "not followed" in out, out
    assert target.accepted == 0


@pytest.mark.parametrize("timeout", ['"300ms"', '300',
                                     'time.parse_duration("100ms") * 3'])
def test_dial_timeout(lua, ws_servers, timeout):
    srv = ws_servers.blackhole()
    out = ok(lua(echo_script(f'{{dial_timeout = {timeout}}}'), srv.url(),
                 allow=allow_port(srv)))
    assert out.startswith("ERR\tTIMEOUT\ttrue\t") and "dial timeout" in out
    assert "after 0.3s" in out


def test_connection_refused(lua):
    from wsservers import free_port
    port = free_port()
    out = ok(lua(echo_script(), f"ws://127.0.0.1:{port}/",
                 allow=[f"ws://127.0.0.1:{port}/*"]))
    assert out.startswith("ERR\tINTERNAL\ttrue\t"), out
    # says what happened, with no guess; the details carry it too
    assert "connect to 127.0.0.1: Connection refused (ECONNREFUSED)" in out
    assert "too many" not in out
    details = ok(lua("""
        local websocket = require("websocket")
        local c, e = websocket.connect(arg[1])
        local d = e:details()
        print(d.address, d.errno, d.url)
    """, f"ws://127.0.0.1:{port}/", allow=[f"ws://127.0.0.1:{port}/*"]))
    assert details.split() == ["127.0.0.1", "ECONNREFUSED",
                               f"ws://127.0.0.1:{port}/"]


# ------------------------------------------------------------------- TLS

def test_tls_success_with_ca_file(lua, ws_servers, certs):
    srv = ws_servers.echo(tls="server")
    script = echo_script("{ca_file = arg[2]}", """
        c:send("secure")
        print(c:channel():receive().data)
        c:close()
    """)
    ca = ["--ca-file", certs.ca]  # read before the sandbox locks down
    assert ok(lua(script, srv.url(host="localhost"), certs.ca,
                  allow=allow_port(srv), opts=ca)).strip() == "secure"
    assert ok(lua(script, srv.url(), certs.ca,
                  allow=allow_port(srv), opts=ca)).strip() == "secure"
    # in the sandbox, a CA file not named with --ca-file cannot be read
    out = ok(lua(script, srv.url(), certs.ca, allow=allow_port(srv)))
    assert out.startswith("ERR\tINVALID\tfalse") and "--ca-file" in out
    # without the sandbox it is read at connect
    out = ok(lua(script, srv.url(), certs.ca, allow=allow_port(srv),
                 opts=["--unsafe-no-sandbox"]))
    assert out.strip() == "secure"


def test_ca_file_option_errors(run, tmp_path):
    # a command-line error (2) naming the file, before anything runs
    r = run("--ca-file", "/nonexistent/ca.pem", "-e", "print(1)")
    assert (r.returncode, r.stdout) == (2, ""), r.stderr
    assert "--ca-file /nonexistent/ca.pem: No such file or directory" in r.stderr
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    r = run("--ca-file", str(bad), "-e", "print(1)")
    assert (r.returncode, r.stdout) == (2, ""), r.stderr
    assert f"--ca-file {bad}: TLS: cannot load CA file" in r.stderr


def test_ca_file_option_alone_trusts_the_ca(lua, ws_servers, certs):
    # like curl --cacert: no ca_file in the script
    srv = ws_servers.echo(tls="server")
    out = ok(lua(echo_script(body="""
        c:send("trusted") print(c:channel():receive().data) c:close()"""),
                 srv.url(host="localhost"), allow=allow_port(srv),
                 opts=["--ca-file", certs.ca]))
    assert out.strip() == "trusted"
    # and a script's own ca_file (another file) still trusts it too
    out = ok(lua(echo_script("{ca_file = arg[2]}", """
        c:send("both") print(c:channel():receive().data) c:close()"""),
                 srv.url(host="localhost"), certs.ca, allow=allow_port(srv),
                 opts=["--ca-file", certs.ca]))
    assert out.strip() == "both"


@pytest.mark.parametrize("kind,why", [
    ("wrong_host", "hostname mismatch"),
    ("expired", "certificate has expired"),
    ("unknown_ca", "unable to get local issuer certificate"),
])
def test_tls_failures(lua, ws_servers, certs, kind, why):
    srv = ws_servers.echo(tls=kind)
    out = ok(lua(echo_script("{ca_file = arg[2]}"), srv.url(host="localhost"),
                 certs.ca, allow=allow_port(srv), opts=["--ca-file", certs.ca]))
    # a certificate that does not verify is not worth retrying
    assert out.startswith("ERR\tINTERNAL\tfalse\t") and why in out, out


def test_tls_without_ca_option_fails(lua, ws_servers):
    srv = ws_servers.echo(tls="server")
    out = ok(lua(echo_script(), srv.url(host="localhost"),
                 allow=allow_port(srv)))
    assert "unable to get local issuer certificate" in out


# ------------------------------------------------------ policy and DNS

ADVERSARIAL = [
    "ws://localhost:{p}.evil.test/ws/x", "ws://localhost:{p}@evil.test/ws/x",
    "ws://evil.test:{p}/localhost/ws/x", "ws://evil.test:{p}/?localhost/ws/x",
    "ws://evil.test:{p}#localhost/ws/x", "ws://evil.test:{p}\\localhost/ws/x",
    "ws://localhost%2eevil.test:{p}/ws/x", "ws://localhost%00:{p}/ws/x",
    "ws://localhost:{p}:80/ws/x", "ws://localhost:{q}/ws/x",
    "wss://localhost:{p}/ws/x", "ws://localhost:{p}/ws",
    "ws://localhost:{p}/ws/../admin", "ws://localhost:{p}/ws/%2e%2e/admin",
    "ws://localhost:{p}/ws/%2E%2E/admin", "ws://localhost:{p}/ws/..%2fadmin/../../x",
    "ws://localhostevil.test:{p}/ws/x", "ws://xlocalhost:{p}/ws/x",
    "ws://localhost\t:{p}/ws/x", "ws://localhost\n.evil.test:{p}/ws/x",
    "ws://localhost :{p}/ws/x", "ws://localhost..evil.test:{p}/ws/x",
    "ws://127.0.0.1:{p}/ws/x", "ws://2130706433:{p}/ws/x",
    "ws://0x7f.1:{p}/ws/x", "ws://127.1:{p}/ws/x", "ws://[::1]:{p}/ws/x",
    "ws://[::ffff:127.0.0.1]:{p}/ws/x", "ws://evil.test:{p}/ws/x",
    "http://localhost:{p}/ws/x", "ws:/\\localhost:{p}/ws/x",
    "ws://user@localhost:{p}/ws/x", "ws://localhost:{p}/ws/x#frag",
]


def test_policy_adversarial_urls_never_connect(lua, ws_servers):
    srv = ws_servers.echo()
    dns = ws_servers.dns({"evil.test": ["127.0.0.1"],
                          "localhost.evil.test": ["127.0.0.1"]})
    from wsservers import free_port
    urls = [u.format(p=srv.port, q=free_port()) for u in ADVERSARIAL]
    out = ok(lua("""
        local websocket = require("websocket")
        local urls = require("json").decode(arg[1])
        for _, u in ipairs(urls) do
          local c, err = websocket.connect(u)
          if c then print("CONNECTED", u) c:close()
          else print(err:kind()) end
        end
        -- the allowed one works
        local c = assert(websocket.connect(arg[2]))
        c:close()
    """, json.dumps(urls), f"ws://localhost:{srv.port}/ws/ok",
        allow=[f"ws://localhost:{srv.port}/ws/*"],
        opts=["--dns-server", dns.server]))
    kinds = out.split()
    assert "CONNECTED" not in out
    assert set(kinds) <= {"PERMISSION_DENIED", "INVALID"}
    assert len(kinds) == len(urls)
    assert srv.accepted == 1  # only the allowed URL reached the server
    # and no refused URL made even a DNS query (localhost is in the hosts
    # file; evil.test would have been asked)
    assert dns.queries == []


def loopback_policy(tmp_path, resources):
    """A policy allowing resources when the address is loopback (meta.ip)."""
    pol = tmp_path / "p.yaml"
    pol.write_text(textwrap.dedent(f"""\
        version: "1.0"
        namespace: test
        entries:
          - name: loopback-ok
            kind: security.policy
            policy:
              actions: [websocket.connect, websocket.connect.url]
              resources: "{resources}"
              effect: allow
              conditions:
                - field: meta.ip
                  operator: cidr
                  value: ["127.0.0.0/8"]
        """))
    return pol


def test_policy_meta_ip_with_fake_dns(lua, ws_servers, tmp_path):
    srv = ws_servers.echo()
    dns = ws_servers.dns({"svc.test": ["127.0.0.1"],
                          "meta.test": ["169.254.169.254"]})
    script = echo_script("{}", "print('OK') c:close()")
    url = f"ws://svc.test:{srv.port}/"
    # a broad allow does not reach loopback
    out = ok(lua(script, url, allow=["ws://*:*/*"],
                 opts=["--dns-server", dns.server]))
    assert out.startswith("ERR\tPERMISSION_DENIED\tfalse") and "127.0.0.1" in out
    out = ok(lua(script, f"ws://meta.test:{srv.port}/", allow=["ws://*:*/*"],
                 opts=["--dns-server", dns.server]))
    assert out.startswith("ERR\tPERMISSION_DENIED") and "169.254.169.254" in out
    assert srv.accepted == 0
    # allowed explicitly by meta.ip
    pol = loopback_policy(tmp_path, "ws://*:*/*")
    out = ok(lua(script, url, opts=["--dns-server", dns.server,
                                    "--policy", str(pol)]))
    assert out.strip() == "OK"
    assert srv.accepted == 1
    # unknown names
    out = ok(lua(script, f"ws://nx.test:{srv.port}/", allow=["ws://*:*/*"],
                 opts=["--dns-server", dns.server]))
    assert out.startswith("ERR\tINTERNAL\ttrue") and "no such host" in out
    out = ok(lua("""
        local websocket = require("websocket")
        local c, e = websocket.connect(arg[1])
        local d = e:details()
        print(d.dns, d.address, d.errno)
    """, f"ws://nx.test:{srv.port}/", allow=["ws://*:*/*"],
        opts=["--dns-server", dns.server]))
    assert out.split() == ["NXDOMAIN", "nil", "nil"]


def test_dns_server_option_errors(run):
    r = run("--dns-server", "nonsense", "-e", "print(1)")
    assert r.returncode == 2 and "invalid DNS server" in r.stderr


# ------------------------------------------------------------ conformance

def test_conformance_cases(lua, ws_servers, sandlua):
    from wscases import CASES
    servers = []
    for case in CASES:
        servers.append(ws_servers.scripted(case.script(),
                                           extensions=case.extensions))
    urls = [s.url() for s in servers]
    out = ok(lua("""
        local websocket = require("websocket")
        local json = require("json")
        local urls = json.decode(arg[1])
        local results = channel.new(#urls)
        for i, u in ipairs(urls) do
          coroutine.spawn(function()
            local c, err = websocket.connect(u, {compression = "context_takeover"})
            local got = {}
            if c then
              local ch = c:channel()
              while true do
                local m, okr = ch:receive()
                if not okr then break end
                got[#got + 1] = {m.type, m.data}
              end
            else
              got = tostring(err)
            end
            results:send({i, got})
          end)
        end
        local all = {}
        for _ = 1, #urls do
          local r = results:receive()
          all[r[1]] = r[2]
        end
        -- binary data as hex in JSON
        for i, got in ipairs(all) do
          if type(got) == "table" then
            for _, m in ipairs(got) do
              if m[1] == "binary" then
                m[2] = (m[2]:gsub(".", function(ch) return string.format("%02x", ch:byte()) end))
              end
            end
          end
        end
        print(json.encode(all))
    """, json.dumps(urls), allow=["ws://127.0.0.1:*/*"], timeout=60,
        opts=max_conn_opts(sandlua)))
    results = json.loads(out)
    failures = []
    for case, srv, got in zip(CASES, servers, results):
        srv.wait_closed(timeout=case.wait + 2)
        if isinstance(got, str):
            failures.append(f"{case.id}: connect failed: {got}")
            continue
        msgs = [m[1] if m[0] == "text" else bytes.fromhex(m[1]) for m in got]
        try:
            assert srv.errors == []
            case.check(msgs, srv.connections[0])
        except AssertionError as e:
            failures.append(str(e))
    assert failures == [], "\n".join(failures)


def test_peer_close_while_paused_keeps_messages(lua, echo_server):
    # the server streams, then closes, while the channel is full: every
    # message is still delivered, then the server's close code
    out = ok(lua(echo_script("{channel_capacity = 2}", """
        c:send("!stream 300 100")
        c:send("!close 4002 done")
        time.sleep("300ms")   -- everything has arrived; we are paused
        local ch, n = c:channel(), 0
        while true do
          local m, okr = ch:receive()
          if not okr then break end
          assert(m.data:sub(1, #tostring(n) + 1) == n .. ":", m.data)
          n = n + 1
        end
        local st, err = c:close_status()
        print(n, st.code, st.reason, st.clean, err)
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.strip() == "300\t4002\tdone\ttrue\tnil"


def test_tls_slow_consumer(lua, ws_servers, certs):
    srv = ws_servers.echo(tls="server")
    out = ok(lua(echo_script("{channel_capacity = 4, ca_file = arg[2]}", """
        c:send("!stream 3000 1000")
        local ch = c:channel()
        for i = 0, 2999 do
          local m = ch:receive()
          assert(m.data:sub(1, #tostring(i) + 1) == i .. ":")
          if i % 300 == 0 then time.sleep("2ms") end
        end
        print("ok")
        c:close()
    """), srv.url(host="localhost"), certs.ca, allow=allow_port(srv),
        opts=["--ca-file", certs.ca]))
    assert out.strip() == "ok"


def test_dial_timeout_covers_dns(lua, ws_servers):
    dns = ws_servers.dns({"slow.test": ["127.0.0.1"]}, silent=["slow.test"])
    out = ok(lua(echo_script('{dial_timeout = "300ms"}'),
                 "ws://slow.test:1/", allow=["ws://*:*/*"],
                 opts=["--dns-server", dns.server]))
    assert out.startswith("ERR\tTIMEOUT\ttrue") and "resolving" in out, out


def test_only_allowed_addresses_are_dialled(lua, ws_servers, tmp_path):
    # the name has ::1 first for nobody and 127.0.0.1 that the policy
    # allows: the connection goes to 127.0.0.1
    srv = ws_servers.echo()
    dns = ws_servers.dns({"dual.test": ["::1", "127.0.0.1"]})
    pol = tmp_path / "p.yaml"
    pol.write_text(textwrap.dedent("""\
        version: "1.0"
        namespace: test
        entries:
          - name: v4-loopback
            kind: security.policy
            policy:
              actions: [websocket.connect, websocket.connect.url]
              resources: "ws://dual.test:*/*"
              effect: allow
              conditions:
                - field: meta.ip
                  operator: cidr
                  value: ["127.0.0.0/8"]
        """))
    audit = tmp_path / "audit.jsonl"
    out = ok(lua(echo_script("{}", "c:send('!info') print(c:channel():receive().data ~= nil) c:close()"),
                 f"ws://dual.test:{srv.port}/",
                 opts=["--dns-server", dns.server, "--policy", str(pol),
                       "--audit-log", str(audit)]))
    assert out.strip() == "true"
    assert srv.accepted == 1
    info = srv.connections[0]
    assert info.header("Host") == f"dual.test:{srv.port}"
    log = audit.read_text()
    assert "::1" in log and "deny" in log  # the refused address is audited


def test_proxy_variables_are_ignored(sandlua, tmp_path, echo_server, ws_servers):
    import subprocess
    hole = ws_servers.blackhole()
    script = tmp_path / "s.lua"
    script.write_text(echo_script('{dial_timeout = "2s"}',
                                  "print('direct') c:close()"))
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "ws_proxy", "wss_proxy"):
        env[k] = f"http://127.0.0.1:{hole.port}"
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    r = subprocess.run([sandlua, "--allow-url", f"ws://127.0.0.1:{echo_server.port}/*",
                        str(script), echo_server.url()], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "direct", r.stdout + r.stderr
    assert hole.accepted == 0


def test_max_connections_limit(lua, echo_server, sandlua):
    opts = max_conn_opts(sandlua, 2)
    if not opts:
        pytest.skip("this build has no sandbox limits (--max-connections)")
    out = ok(lua(echo_script("{}", """
        local b = assert(websocket.connect(arg[1]))
        local x, err = websocket.connect(arg[1])
        print(x, err:kind(), err:retryable())
        c:close()
        local d = assert(websocket.connect(arg[1]))
        print("again")
    """), echo_server.url(), allow=allow_port(echo_server), opts=opts))
    assert out.splitlines() == ["nil\tUNAVAILABLE\ttrue", "again"]


def test_compression_threshold_and_frames(lua, ws_servers):
    # a raw server that agrees to permessage-deflate and records frames:
    # messages under the threshold go uncompressed (RSV1 clear), others
    # compressed; every frame is masked
    from wsservers import ScriptedServer
    srv = ws_servers.scripted(ScriptedServer.steps(
        ("recv",), ("recv",), ("expect_close",)),
        extensions="permessage-deflate")
    ok(lua(echo_script('{compression = "context_takeover",'
                       ' compression_threshold = 100}', """
        c:send(string.rep("a", 99))
        c:send(string.rep("b", 100))
        c:close()
    """), srv.url(), allow=allow_port(srv)))
    srv.wait_closed()
    frames = srv.connections[0].frames
    assert [f["rsv1"] for f in frames[:2]] == [False, True]
    assert all(f["masked"] for f in frames)
    assert frames[0]["payload"] == b"a" * 99


def test_concurrent_senders_on_one_client(lua, echo_server):
    out = ok(lua(echo_script("{channel_capacity = 4}", """
        local T, M = 8, 10
        local done = channel.new(T)
        for t = 1, T do
          coroutine.spawn(function()
            for i = 1, M do
              local body = string.rep(string.char(64 + t), 200000 + i)
              assert(c:send(body, websocket.BINARY))
            end
            done:send(t)
          end)
        end
        local got, ch = {}, c:channel()
        for k = 1, T * M do
          local m = ch:receive()
          local t = m.data:byte(1) - 64
          assert(m.data == string.rep(m.data:sub(1, 1), #m.data), "torn message")
          got[t] = (got[t] or 0) + 1
          -- each sender's messages come back in its order
          assert(#m.data == 200000 + got[t], "order")
        end
        for _ = 1, T do done:receive() end
        print("ok", #got)
        c:close()
    """), echo_server.url(), allow=allow_port(echo_server)))
    assert out.strip() == "ok\t8"


def test_many_lookups_at_once(lua, ws_servers, tmp_path, sandlua):
    # 500 connections by name at once: lookups beyond 64 in flight wait
    # their turn, so no answer is dropped (a dropped one would only be
    # retried after the resolver's 5 s timeout, past the dial timeout)
    srv = ws_servers.echo()
    dns = ws_servers.dns({"many.test": ["127.0.0.1"]})
    pol = tmp_path / "p.yaml"
    pol.write_text(textwrap.dedent("""\
        version: "1.0"
        namespace: test
        entries:
          - name: loopback
            kind: security.policy
            policy:
              actions: [websocket.connect, websocket.connect.url]
              resources: "ws://many.test:*/*"
              effect: allow
              conditions:
                - field: meta.ip
                  operator: cidr
                  value: ["127.0.0.0/8"]
        """))
    out = ok(lua("""
        local websocket = require("websocket")
        local N = 500
        local done = channel.new(N)
        for i = 1, N do
          coroutine.spawn(function()
            local c, err = websocket.connect(arg[1], {dial_timeout = "3s"})
            if not c then done:send(tostring(err)) return end
            c:close()
            done:send("ok")
          end)
        end
        local n = 0
        for i = 1, N do
          local v = done:receive()
          if v == "ok" then n = n + 1 else print(v) end
        end
        print(n)
    """, f"ws://many.test:{srv.port}/",
        opts=["--dns-server", dns.server, "--policy", str(pol)] +
        max_conn_opts(sandlua)))
    assert out.strip().splitlines()[-1] == "500", out[-500:]
    assert len(dns.queries) == 1000  # A and AAAA, each asked once


def test_many_tls_connections(lua, ws_servers, certs, sandlua):
    srv = ws_servers.echo(tls="server")
    out = ok(lua("""
        local websocket = require("websocket")
        local N = 200
        local done = channel.new(N)
        for i = 1, N do
          coroutine.spawn(function()
            local c, err = websocket.connect(arg[1], {ca_file = arg[2]})
            if not c then done:send(tostring(err)) return end
            c:send("m" .. i)
            local m = c:channel():receive()
            done:send(m.data == "m" .. i and "ok" or "bad")
            c:close()
          end)
        end
        local n = 0
        for i = 1, N do
          local v = done:receive()
          if v == "ok" then n = n + 1 else print(v) end
        end
        print(n)
    """, srv.url(host="localhost"), certs.ca, allow=allow_port(srv),
        opts=["--ca-file", certs.ca] + max_conn_opts(sandlua)))
    assert out.strip().splitlines()[-1] == "200"


def test_close_while_another_task_sends(lua, ws_servers):
    # the server reads nothing for a while: a big send blocks; close()
    # from another task abandons it (the sender gets false) and the close
    # frame follows the frame in progress
    from wsservers import ScriptedServer
    srv = ws_servers.scripted(ScriptedServer.steps(
        ("sleep", 0.5), ("expect_close",)))
    out = ok(lua(echo_script("{}", """
        local res = channel.new(1)
        coroutine.spawn(function()
          local s, err = c:send(string.rep("z", 32 << 20), websocket.BINARY)
          res:send({s, err and err:kind()})
        end)
        time.sleep("50ms")
        print(c:close(4000, "stop"))
        local r = res:receive()
        print(r[1], r[2])
        local s2, e2 = c:send("after")
        print(s2, e2:kind())
    """), srv.url(), allow=allow_port(srv)))
    assert out.splitlines() == ["true", "false\tINTERNAL", "false\tINTERNAL"]
    srv.wait_closed()
    assert srv.connections[0].close_code == 4000


def test_send_and_ping_errors(lua, echo_server):
    out = ok(lua(echo_script("{}", """
        local s, e = c:send("\\xff\\xfe")
        print(s, e:kind())
        s, e = c:ping(string.rep("p", 126))
        print(s, e:kind())
        print(c:ping(string.rep("p", 125)))
        print(c:send("\\xff\\xfe", websocket.BINARY))
        print(#c:channel():receive().data)
        print(pcall(c.send, c))
        c:close()
    """), echo_server.url(), allow=allow_port(echo_server)))
    lines = out.splitlines()
    assert lines[:5] == ["false\tINVALID", "false\tINVALID", "true", "true", "2"]
    assert lines[5].startswith("false\t") and "bad argument" in lines[5]


def test_metatables_are_protected_and_a_finalized_client_refuses(
        lua, echo_server):
    # getmetatable gives a name, never the table (no __gc to call by hand);
    # a client finalized before an object that still holds it (here both
    # die in one collection; the holder's finalizer runs second) refuses
    # every method with an error instead of touching freed memory.
    out = ok(lua("""
        local websocket = require("websocket")
        local time, channel = require("time"), require("channel")
        local url = arg[1]
        local c = assert(websocket.connect(url))
        print(getmetatable(c), getmetatable(time.timer("1s")),
              getmetatable(time.ticker("1s")), getmetatable(channel.new()),
              getmetatable(time.parse_duration("1s")))
        c:close()
        local results = {}
        do
          local holder = setmetatable({}, {__gc = function(h)
            for _, m in ipairs({"send", "ping", "close", "channel",
                                "protocol", "close_status", "receive"}) do
              local ok, err = pcall(h.c[m], h.c, "x")
              results[#results + 1] = m .. "=" .. tostring(ok) .. ":" ..
                                      tostring(err):match("finalized") or ""
            end
            results[#results + 1] = tostring(h.c)
          end})
          holder.c = assert(websocket.connect(url))  -- made after the holder
          holder.c:close()
        end
        collectgarbage()
        collectgarbage()
        print(table.concat(results, " "))
        """, echo_server.url(), allow=allow_port(echo_server)))
    first, second = out.splitlines()
    assert first.split("\t") == ["websocket.Client", "sandlua.Timer",
                                 "sandlua.Ticker", "sandlua.Channel",
                                 "sandlua.Duration"]
    assert second == ("send=false:finalized ping=false:finalized "
                      "close=false:finalized channel=false:finalized "
                      "protocol=false:finalized close_status=false:finalized "
                      "receive=false:finalized websocket.Client (finalized)")


def test_cname_chain_is_decided_on_the_final_address_and_audited(
        lua, ws_servers, tmp_path):
    # The resolver follows the chain; the policy decides on the final
    # address (loopback here: refused under a broad allow, allowed by a
    # meta.ip cidr); the audit record names the chain.
    srv = ws_servers.echo()
    dns = ws_servers.dns({"alias.test": ["CNAME:mid.test"],
                          "mid.test": ["CNAME:svc.test"],
                          "svc.test": ["127.0.0.1"]})
    script = echo_script("{}", "print('OK') c:close()")
    url = f"ws://alias.test:{srv.port}/"
    log = tmp_path / "audit.jsonl"
    out = ok(lua(script, url, allow=["ws://*:*/*"],
                 opts=["--dns-server", dns.server, "--audit-log", str(log)]))
    assert out.startswith("ERR\tPERMISSION_DENIED") and "127.0.0.1" in out
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    denied = [r for r in recs if r.get("ip") == "127.0.0.1"]
    assert denied and denied[0]["decision"] == "deny"
    assert denied[0]["cname"] == "alias.test -> mid.test -> svc.test"
    pol = loopback_policy(tmp_path, "ws://alias.test:*/*")
    log.unlink()
    out = ok(lua(script, url, opts=["--dns-server", dns.server, "--policy",
                                    str(pol), "--audit-log", str(log),
                                    "--audit-all"]))
    assert out.strip() == "OK"
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    allowed = [r for r in recs if r.get("ip") == "127.0.0.1"]
    assert allowed[0]["decision"] == "allow"
    assert allowed[0]["cname"] == "alias.test -> mid.test -> svc.test"


def test_connect_has_a_default_dial_timeout(lua, ws_servers):
    # A server that accepts and never answers the handshake fails the
    # connect after the default 30 s, with TIMEOUT, not never.
    hole = ws_servers.blackhole()
    t0 = time.monotonic()
    out = ok(lua("""
        local websocket = require("websocket")
        local c, err = websocket.connect(arg[1])
        print(c, err:kind(), err:message())
        """, hole.url(), allow=allow_port(hole), timeout=90))
    took = time.monotonic() - t0
    assert out.startswith("nil\tTIMEOUT\t") and "dial timeout after 30s" in out
    assert 29 < took < 60


def test_a_finished_script_is_never_reported_as_a_timeout(lua, ws_servers):
    # The script ends at once, leaving a connection whose peer never answers
    # the close: the 2 s close wait passes the 1.5 s --timeout, and the run
    # still ends with the script's status, not the timeout's.
    srv = ws_servers.silent()
    t0 = time.monotonic()
    r = lua("""
        local websocket = require("websocket")
        assert(websocket.connect(arg[1]))
        print("done")
        """, srv.url(), allow=allow_port(srv), opts=["--timeout", "1500ms"])
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout == "done\n" and "limit" not in r.stderr
    assert 1.5 < took < 4.5
