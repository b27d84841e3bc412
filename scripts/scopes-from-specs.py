#!/usr/bin/env python3
"""Writes Onramp's Atlassian scope and operation data from Atlassian's own OpenAPI documents.

    python3 scripts/scopes-from-specs.py <spec dir>            # regenerate the catalog files
    python3 scripts/scopes-from-specs.py <spec dir> --check    # exit 1 when the committed files differ

<spec dir> holds the four documents under these names (they are not committed: they are large):

    jira-platform-v3.json  https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json
    jira-software.json     https://developer.atlassian.com/cloud/jira/software/swagger.v3.json
    confluence-v2.json     https://developer.atlassian.com/cloud/confluence/openapi-v2.v3.json
    confluence-v1.json     https://developer.atlassian.com/cloud/confluence/swagger.v3.json

Where each copy came from (repository, commit, date, path) is kept in catalog/specs-provenance.json and
carried over while a document's SHA-256 is unchanged. A changed document needs its origin stated:
--origin jira-software=owner/repo@<commit>@<date>@<path>. Run from the repository root; standard library only.

Written (all generated, do not edit):
  crates/onramp-core/catalog/scopes.toml          every scope a spec declares or an operation requires
  crates/onramp-core/catalog/operations.json      every operation, with its classic and granular alternatives
  crates/onramp-core/catalog/specs-provenance.json where the specs came from, their hashes and counts
Hand-written scopes (offline_access, read:me) live in catalog/scopes-hand.toml; this script leaves them alone.
"""
import argparse
import hashlib
import json
import os
import re
import sys
from urllib.parse import urlparse

CATALOG = "crates/onramp-core/catalog"
SCOPES_OUT = f"{CATALOG}/scopes.toml"
OPERATIONS_OUT = f"{CATALOG}/operations.json"
PROVENANCE_OUT = f"{CATALOG}/specs-provenance.json"

# (spec id, product, file name, URL Atlassian publishes it at). The order decides whose description wins
# when two specs describe one scope differently.
SPECS = [
    ("jira-platform-v3", "jira", "jira-platform-v3.json",
     "https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json"),
    ("jira-software", "jira", "jira-software.json",
     "https://developer.atlassian.com/cloud/jira/software/swagger.v3.json"),
    ("confluence-v2", "confluence", "confluence-v2.json",
     "https://developer.atlassian.com/cloud/confluence/openapi-v2.v3.json"),
    ("confluence-v1", "confluence", "confluence-v1.json",
     "https://developer.atlassian.com/cloud/confluence/swagger.v3.json"),
]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
BASIC_AUTH = "basicAuth"
NO_DESCRIPTION = "Atlassian's specs require this scope but publish no description."

# Granular names are <verb>:<entity>:<product>; classic ones <verb>:<product-noun> (read:jira-work,
# search:confluence). Used only where the spec's own structure leaves the kind open (see alternatives()).
GRANULAR_NAME = re.compile(r"^[a-z]+:[^:]+:(jira|jira-software|confluence)$")

ACCESS_BY_VERB = {
    "read": "read", "search": "read", "readonly": "read", "validate": "read",
    "write": "write", "send": "write", "redact": "write",
    "delete": "delete",
    "manage": "manage", "moderate": "manage",
}


def path_prefix(doc):
    """The path part of the spec's first server URL: `/wiki/api/v2` for Confluence v2, empty for the
    others, whose paths already start at the site root (`/rest/api/3/...`, `/wiki/rest/api/...`)."""
    servers = doc.get("servers") or [{"url": ""}]
    url = servers[0]["url"]
    return url, urlparse(url if "//" in url else "//x" + url).path.rstrip("/")


def oauth_requirements(op):
    """Scope lists of the operation's OAuth 2.0 `security` requirements (basic auth and `{}` left out)."""
    out = []
    for requirement in op.get("security") or []:
        for scheme, scopes in requirement.items():
            if scheme != BASIC_AUTH:
                out.append(list(scopes))
    return out


def alternatives(spec_id, op):
    """(classic, granular): each the scope list of one alternative, or None when the spec publishes no
    such alternative. An empty list is an alternative the spec publishes with no scope named.

    Jira v3 and Confluence v1 mark the classic alternative `Current` and the granular one `Beta`. A few
    Confluence v1 operations publish only a `Current` entry of granular names (the audit log, user
    properties), or a `Current` entry equal to their `Beta` one; those are granular alternatives.
    Operations without `x-atlassian-oauth2-scopes` fall back to their `security` requirement lists.
    Confluence v2's single entry and Jira Software's `security` lists hold granular scopes."""
    entries = op.get("x-atlassian-oauth2-scopes")
    if entries is None:
        lists = oauth_requirements(op)
        if spec_id in ("jira-software", "confluence-v2"):
            return None, merge(lists)
        if not lists:
            return None, None
        classic = [s for s in lists if all(not GRANULAR_NAME.match(n) for n in s)]
        granular = [s for s in lists if s not in classic]
        return merge(classic), merge(granular)
    current = [e["scopes"] for e in entries if e.get("state") == "Current"]
    beta = [e["scopes"] for e in entries if e.get("state") == "Beta"]
    other = [e for e in entries if e.get("state") not in ("Current", "Beta")]
    if other:
        raise SystemExit(f"{spec_id}: unknown state in {other}")
    if spec_id == "confluence-v2":
        return None, merge(current + beta)
    classic, granular = [], list(beta)
    for scopes in current:
        granular_names = any(GRANULAR_NAME.match(n) for n in scopes)
        differs_from_beta = beta and any(sorted(scopes) != sorted(b) for b in beta)
        if granular_names and not differs_from_beta:
            granular.append(scopes)
        else:
            classic.append(scopes)
    return merge(classic), merge(granular)


def merge(lists):
    """One alternative from the spec's entries of one kind; None when there is none."""
    if not lists:
        return None
    if len(lists) > 1 and any(sorted(lists[0]) != sorted(x) for x in lists[1:]):
        raise SystemExit(f"two different alternatives of one kind: {lists}")
    return sorted(set(lists[0]))


def load_specs(spec_dir):
    specs = []
    for spec_id, product, file_name, url in SPECS:
        path = os.path.join(spec_dir, file_name)
        raw = open(path, "rb").read()
        specs.append((spec_id, product, url, json.loads(raw), hashlib.sha256(raw).hexdigest()))
    return specs


def declared_scopes(doc):
    """{scope: description} of every OAuth 2.0 flow in the spec's security schemes."""
    out = {}
    for scheme in (doc.get("components") or {}).get("securitySchemes", {}).values():
        for flow in (scheme.get("flows") or {}).values():
            out.update(flow.get("scopes") or {})
    return out


def build(specs):
    operations = []
    prefixes = {}
    for spec_id, product, _url, doc, _sha in specs:
        server, prefix = path_prefix(doc)
        prefixes[spec_id] = {"server": server, "prefix": prefix}
        for path, item in doc["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                classic, granular = alternatives(spec_id, op)
                operations.append({
                    "product": product,
                    "spec": spec_id,
                    "method": method.upper(),
                    "pathTemplate": prefix + path,
                    "operationId": op.get("operationId", ""),
                    "summary": (op.get("summary") or "").strip(),
                    "classic": classic,
                    "granular": granular,
                    "deprecated": bool(op.get("deprecated", False)),
                })

    # Each scope: product, kind, description and where it comes from.
    scopes = {}

    def entry(name, product):
        s = scopes.setdefault(name, {"product": product, "declared_in": [], "from": [],
                                     "description": None, "description_from": None,
                                     "classic_in": 0, "granular_in": 0, "required_by": 0})
        if s["product"] != product:
            raise SystemExit(f"{name} belongs to two products")
        return s

    for spec_id, product, _url, doc, _sha in specs:
        for name, description in declared_scopes(doc).items():
            s = entry(name, product)
            s["declared_in"].append(spec_id)
            if spec_id not in s["from"]:
                s["from"].append(spec_id)
            if s["description"] is None and description.strip():
                s["description"], s["description_from"] = description.strip(), spec_id
    mixed = []
    for op in operations:
        for kind in ("classic", "granular"):
            for name in op[kind] or []:
                s = entry(name, op["product"])
                s[f"{kind}_in"] += 1
                if op["spec"] not in s["from"]:
                    s["from"].append(op["spec"])
        for name in set(op["classic"] or []) | set(op["granular"] or []):
            scopes[name]["required_by"] += 1

    for name, s in scopes.items():
        if s["classic_in"]:
            s["kind"] = "classic"
        elif s["granular_in"]:
            s["kind"] = "granular"
        else:
            s["kind"] = "granular" if GRANULAR_NAME.match(name) else "classic"
        verb = name.split(":", 1)[0]
        if verb not in ACCESS_BY_VERB:
            raise SystemExit(f"{name}: unknown verb {verb}; add it to ACCESS_BY_VERB")
        s["access"] = ACCESS_BY_VERB[verb]
    # Classic scopes Atlassian lists inside a granular alternative (Jira's uiModifications name the
    # classic read:jira-work in their Beta entry). Kept as published, and listed so tests know them.
    for op in operations:
        for name in op["granular"] or []:
            if scopes[name]["kind"] == "classic":
                mixed.append({"spec": op["spec"], "method": op["method"],
                              "pathTemplate": op["pathTemplate"], "scope": name})
    return operations, prefixes, scopes, mixed


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def toml_list(items):
    return "[" + ", ".join(toml_str(i) for i in items) + "]"


def scopes_toml(scopes):
    order = {"jira": 0, "confluence": 1}
    names = sorted(scopes, key=lambda n: (order[scopes[n]["product"]], scopes[n]["kind"] != "classic", n))
    out = [
        "# Atlassian scopes. GENERATED by scripts/scopes-from-specs.py from Atlassian's OpenAPI documents",
        "# (catalog/specs-provenance.json says which copies). Do not edit; hand-written scopes are in scopes-hand.toml.",
        "# Every scope a spec's security scheme declares or an operation requires. kind: classic | granular.",
        "# access: read | write | delete | manage (from the verb). from: the specs that declare or require it;",
        "# declared_in: the specs whose security scheme lists it (with a description); required_by: how many",
        "# operations in operations.json name it. description_published = false: no spec describes it.",
        "",
    ]
    for name in names:
        s = scopes[name]
        published = s["description"] is not None
        out += [
            "[[scope]]",
            f"name = {toml_str(name)}",
            f"product = {toml_str(s['product'])}",
            f"kind = {toml_str(s['kind'])}",
            f"access = {toml_str(s['access'])}",
            f"description = {toml_str(s['description'] if published else NO_DESCRIPTION)}",
            f"description_published = {'true' if published else 'false'}",
        ]
        if published:
            out.append(f"description_from = {toml_str(s['description_from'])}")
        out += [
            f"from = {toml_list(s['from'])}",
            f"declared_in = {toml_list(s['declared_in'])}",
            f"required_by = {s['required_by']}",
        ]
        notes = []
        if s["required_by"] == 0:
            notes.append("Declared in the security scheme, but no operation in the specs requires it.")
        if s["kind"] == "classic" and GRANULAR_NAME.match(name):
            notes.append("Classic by its place in the spec (a Current alternative beside a Beta one), "
                         "though its name has the granular form.")
        if notes:
            out.append(f"note = {toml_str(' '.join(notes))}")
        out.append("")
    return "\n".join(out)


def operations_json(operations, prefixes):
    head = {
        "generatedBy": "scripts/scopes-from-specs.py from Atlassian's OpenAPI documents; do not edit",
        "about": ("pathTemplate is the spec's path behind its server's path prefix (pathPrefixes), i.e. the path "
                  "after the gateway's /ex/<product>/<cloudId> or the site root. classic/granular: the scopes of "
                  "that alternative, all of them needed; null when the spec publishes no such alternative; [] "
                  "when it publishes the alternative with no scope named."),
        "pathPrefixes": prefixes,
    }
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False, sort_keys=True)},")
    lines.append('"operations": [')
    rows = [json.dumps(op, ensure_ascii=False, separators=(",", ":")) for op in operations]
    lines.append(",\n".join(rows))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def provenance_json(specs, operations, scopes, mixed, old, origins):
    out = {"about": ("Where the OpenAPI copies behind scopes.toml and operations.json came from. Written by "
                     "scripts/scopes-from-specs.py; repository, commit, date and path are carried over while "
                     "sha256 is unchanged."),
           "specs": {},
           "classicScopesInGranularAlternatives": mixed}
    for spec_id, product, url, doc, sha in specs:
        previous = (old or {}).get("specs", {}).get(spec_id, {})
        origin = origins.get(spec_id)
        if origin is None:
            if previous.get("sha256") != sha:
                raise SystemExit(f"{spec_id}: the document changed (sha256 {sha}); say where it came from "
                                 f"with --origin {spec_id}=owner/repo@<commit>@<date>@<path>")
            origin = {k: previous[k] for k in ("repository", "commit", "date", "path")}
        out["specs"][spec_id] = {
            "product": product,
            "publishedAt": url,
            **origin,
            "infoVersion": doc["info"]["version"],
            "openapi": doc.get("openapi", ""),
            "sha256": sha,
            "operations": sum(1 for op in operations if op["spec"] == spec_id),
            "scopes": sum(1 for s in scopes.values() if spec_id in s["from"]),
            "scopesDeclared": len(declared_scopes(doc)),
        }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def parse_origin(text):
    spec_id, rest = text.split("=", 1)
    repository, commit, date, path = rest.split("@", 3)
    return spec_id, {"repository": repository, "commit": commit, "date": date, "path": path}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec_dir", nargs="?", default=os.path.expanduser("~/.cache/atlassian-specs"))
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed files differ")
    parser.add_argument("--origin", action="append", default=[], help="spec=owner/repo@commit@date@path")
    args = parser.parse_args()

    specs = load_specs(args.spec_dir)
    operations, prefixes, scopes, mixed = build(specs)
    old = json.load(open(PROVENANCE_OUT)) if os.path.exists(PROVENANCE_OUT) else None
    origins = dict(parse_origin(o) for o in args.origin)
    outputs = {
        SCOPES_OUT: scopes_toml(scopes),
        OPERATIONS_OUT: operations_json(operations, prefixes),
        PROVENANCE_OUT: provenance_json(specs, operations, scopes, mixed, old, origins),
    }
    if args.check:
        stale = [p for p, text in outputs.items() if not os.path.exists(p) or open(p).read() != text]
        for p in stale:
            print(f"{p} differs from what the specs give; run python3 scripts/scopes-from-specs.py {args.spec_dir}")
        sys.exit(1 if stale else 0)
    for p, text in outputs.items():
        with open(p, "w") as f:
            f.write(text)
    undescribed = sum(1 for s in scopes.values() if s["description"] is None)
    print(f"{len(operations)} operations, {len(scopes)} scopes ({undescribed} without a published description), "
          f"{len(mixed)} classic scopes inside granular alternatives")


if __name__ == "__main__":
    main()
