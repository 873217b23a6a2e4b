"""A strict check of Kubernetes manifests against the fields of the
batch/v1 Job and core/v1 ConfigMap schemas that packaging/k8s uses.

kubeconform is not packaged for Debian 12 nor on npm, so this is the
subset of the OpenAPI schemas (Kubernetes 1.28 API reference) for those
kinds: every field the manifest may use, with its type, required fields,
enumerations, name and quantity formats.  As kubeconform -strict and
kubectl's server-side field validation do, a field the schema does not
have is an error.  validate(docs) returns the list of errors (empty: valid).
"""
import re

# Types: "string", "integer", "boolean", "quantity", "int-or-string",
# ("array", T), ("map", T), ("enum", (values...)), Obj(fields, required).


class Obj:
    def __init__(self, fields, required=()):
        self.fields = fields
        self.required = required


DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
QUANTITY = re.compile(
    r"[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[munkMGTPE]|[eE][+-]?\d+)?")
CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

OBJECT_META = Obj({
    "name": "string", "namespace": "string", "generateName": "string",
    "labels": ("map", "string"), "annotations": ("map", "string"),
})

SECCOMP = Obj({"type": ("enum", ("Localhost", "RuntimeDefault",
                                 "Unconfined")),
               "localhostProfile": "string"}, ("type",))

CAPABILITIES = Obj({"add": ("array", "string"), "drop": ("array", "string")})

CONTAINER_SECURITY = Obj({
    "allowPrivilegeEscalation": "boolean", "privileged": "boolean",
    "readOnlyRootFilesystem": "boolean", "runAsNonRoot": "boolean",
    "runAsUser": "integer", "runAsGroup": "integer",
    "capabilities": CAPABILITIES, "seccompProfile": SECCOMP,
    "procMount": "string",
})

POD_SECURITY = Obj({
    "runAsNonRoot": "boolean", "runAsUser": "integer",
    "runAsGroup": "integer", "fsGroup": "integer",
    "supplementalGroups": ("array", "integer"), "seccompProfile": SECCOMP,
})

RESOURCES = Obj({"limits": ("map", "quantity"),
                 "requests": ("map", "quantity")})

ENV_VAR = Obj({"name": "string", "value": "string"}, ("name",))

VOLUME_MOUNT = Obj({"name": "string", "mountPath": "string",
                    "readOnly": "boolean", "subPath": "string"},
                   ("name", "mountPath"))

CONTAINER = Obj({
    "name": "string", "image": "string",
    "imagePullPolicy": ("enum", ("Always", "IfNotPresent", "Never")),
    "command": ("array", "string"), "args": ("array", "string"),
    "workingDir": "string", "env": ("array", ENV_VAR),
    "resources": RESOURCES, "securityContext": CONTAINER_SECURITY,
    "volumeMounts": ("array", VOLUME_MOUNT),
    "terminationMessagePolicy": ("enum", ("File",
                                          "FallbackToLogsOnError")),
}, ("name",))

KEY_TO_PATH = Obj({"key": "string", "path": "string", "mode": "integer"},
                  ("key", "path"))

VOLUME = Obj({
    "name": "string",
    "configMap": Obj({"name": "string", "items": ("array", KEY_TO_PATH),
                      "defaultMode": "integer", "optional": "boolean"}),
    "emptyDir": Obj({"medium": "string", "sizeLimit": "quantity"}),
}, ("name",))

POD_SPEC = Obj({
    "restartPolicy": ("enum", ("Always", "OnFailure", "Never")),
    "containers": ("array", CONTAINER),
    "initContainers": ("array", CONTAINER),
    "volumes": ("array", VOLUME),
    "securityContext": POD_SECURITY,
    "automountServiceAccountToken": "boolean",
    "serviceAccountName": "string",
    "enableServiceLinks": "boolean",
    "activeDeadlineSeconds": "integer",
    "terminationGracePeriodSeconds": "integer",
    "nodeSelector": ("map", "string"),
    "runtimeClassName": "string",
}, ("containers",))

POD_TEMPLATE = Obj({"metadata": OBJECT_META, "spec": POD_SPEC})

JOB_SPEC = Obj({
    "template": POD_TEMPLATE,
    "completions": "integer", "parallelism": "integer",
    "backoffLimit": "integer", "activeDeadlineSeconds": "integer",
    "ttlSecondsAfterFinished": "integer",
    "completionMode": ("enum", ("NonIndexed", "Indexed")),
    "suspend": "boolean",
}, ("template",))

JOB = Obj({"apiVersion": "string", "kind": "string",
           "metadata": OBJECT_META, "spec": JOB_SPEC},
          ("apiVersion", "kind", "metadata", "spec"))

CONFIGMAP = Obj({"apiVersion": "string", "kind": "string",
                 "metadata": OBJECT_META, "data": ("map", "string"),
                 "binaryData": ("map", "string"), "immutable": "boolean"},
                ("apiVersion", "kind", "metadata"))

KINDS = {("batch/v1", "Job"): JOB, ("v1", "ConfigMap"): CONFIGMAP}


def check(value, schema, path, errors):
    if isinstance(schema, Obj):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
            return
        for k in schema.required:
            if k not in value:
                errors.append(f"{path}.{k}: required")
        for k, v in value.items():
            if k not in schema.fields:
                errors.append(f"{path}.{k}: unknown field")
            else:
                check(v, schema.fields[k], f"{path}.{k}", errors)
    elif isinstance(schema, tuple) and schema[0] == "array":
        if not isinstance(value, list):
            errors.append(f"{path}: expected an array")
            return
        for i, v in enumerate(value):
            check(v, schema[1], f"{path}[{i}]", errors)
    elif isinstance(schema, tuple) and schema[0] == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
            return
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(f"{path}: key {k!r} is not a string")
            check(v, schema[1], f"{path}.{k}", errors)
    elif isinstance(schema, tuple) and schema[0] == "enum":
        if value not in schema[1]:
            errors.append(f"{path}: {value!r} is not one of "
                          f"{', '.join(schema[1])}")
    elif schema == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
    elif schema == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif schema == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean, got {value!r}")
    elif schema == "quantity":
        if isinstance(value, bool) or not (
                isinstance(value, (int, float)) or
                (isinstance(value, str) and QUANTITY.fullmatch(value))):
            errors.append(f"{path}: {value!r} is not a quantity")
    else:
        raise ValueError(schema)


def semantics(doc, kind, errors):
    """The rules of the API server's validation the schemas cannot say."""
    meta = doc.get("metadata") or {}
    name = meta.get("name", "")
    if not isinstance(name, str) or len(name) > 253 or \
            not DNS1123_SUBDOMAIN.fullmatch(name):
        errors.append(f"{kind}.metadata.name: {name!r} is not a DNS-1123 "
                      "subdomain")
    for k, v in (meta.get("labels") or {}).items():
        if not isinstance(v, str) or len(v) > 63 or \
                not LABEL_VALUE.fullmatch(v):
            errors.append(f"{kind}.metadata.labels.{k}: bad value {v!r}")
    if kind == "ConfigMap":
        for k in list(doc.get("data") or {}) + list(doc.get("binaryData")
                                                    or {}):
            if not CONFIGMAP_KEY.fullmatch(str(k)) or len(str(k)) > 253:
                errors.append(f"ConfigMap.data: bad key {k!r}")
        return
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    where = "Job.spec.template.spec"
    if spec.get("restartPolicy") not in ("Never", "OnFailure"):
        errors.append(f"{where}.restartPolicy: a Job's pods need Never or "
                      "OnFailure")
    containers = spec.get("containers") or []
    if not containers:
        errors.append(f"{where}.containers: at least one container")
    volumes = {v.get("name") for v in spec.get("volumes") or []
               if isinstance(v, dict)}
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            continue
        if not DNS1123_LABEL.fullmatch(str(c.get("name", ""))):
            errors.append(f"{where}.containers[{i}].name: not a DNS-1123 "
                          "label")
        if not c.get("image"):
            errors.append(f"{where}.containers[{i}].image: required")
        for m in c.get("volumeMounts") or []:
            if isinstance(m, dict) and m.get("name") not in volumes:
                errors.append(f"{where}.containers[{i}].volumeMounts: no "
                              f"volume {m.get('name')!r}")
        res = c.get("resources") or {}
        for r, q in (res.get("requests") or {}).items():
            lim = (res.get("limits") or {}).get(r)
            if lim is not None and quantity(q) > quantity(lim):
                errors.append(f"{where}.containers[{i}].resources: request "
                              f"of {r} above its limit")


SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


def quantity(q):
    m = re.fullmatch(r"([+-]?[\d.]+)([A-Za-z]*)", str(q))
    if not m or m.group(2) not in SUFFIX:
        return float("nan")
    return float(m.group(1)) * SUFFIX[m.group(2)]


def validate(docs):
    errors = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            errors.append(f"document {i}: not an object")
            continue
        key = (doc.get("apiVersion"), doc.get("kind"))
        schema = KINDS.get(key)
        if schema is None:
            errors.append(f"document {i}: no schema for {key}")
            continue
        check(doc, schema, key[1], errors)
        semantics(doc, key[1], errors)
    return errors
