"""The OpenAPI description of the policy-staff and administrator endpoints (webapp.api_admin),
merged into the document of /api/v1 by `webapp.openapi.document`."""
from __future__ import annotations

from .openapi import _json, _ref


def _errors(*codes: int) -> dict:
    text = {400: "Malformed request (e.g. invalid JSON)", 401: "Missing, invalid or expired token",
            403: "Not allowed for this officer's role", 404: "No such resource",
            409: "The instance is not in a state that allows this (or the migration is refused; `errors` says why)",
            413: "Request body too large", 422: "Validation failed; `errors` lists what is wrong"}
    out = {}
    for c in codes:
        schema = {409: _ref("ActionRefused"), 422: _ref("ValidationError")}.get(c, _ref("Error"))
        out[str(c)] = _json(schema, text[c])
    return out


NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS = {
    "DeployProblem": {"type": "object", "required": ["message"], "properties": {
        "file": NULLABLE_STR, "element": {"type": ["string", "null"], "description": "BPMN element id"},
        "line": NULLABLE_INT, "message": {"type": "string"}}},
    "DeployRefused": {"allOf": [_ref("Error"), {"type": "object", "required": ["errors"], "properties": {
        "errors": {"type": "array", "items": _ref("DeployProblem")}}}]},
    "Deployed": {"type": "object", "required": ["process_id", "version", "versions", "created"], "properties": {
        "process_id": {"type": "string"}, "version": {"type": "integer"}, "version_id": {"type": "integer"},
        "deployment_id": {"type": "integer"}, "created": {"type": "boolean",
                                                         "description": "false: identical to the newest version"},
        "versions": {"type": "array", "items": {"type": "object", "properties": {
            "process_id": {"type": "string"}, "version": {"type": "integer"}, "id": {"type": "integer"},
            "name": NULLABLE_STR}}}}},
    "CheckResult": {"type": "object", "required": ["ok", "errors"], "properties": {
        "ok": {"type": "boolean"}, "errors": {"type": "array", "items": _ref("DeployProblem")}}},
    "ProcessVersion": {"type": "object", "properties": {
        "id": {"type": "integer"}, "version": {"type": "integer"}, "name": NULLABLE_STR,
        "deployment_id": {"type": "integer"}, "deployed_by": NULLABLE_STR, "deployed_at": TIME,
        "note": NULLABLE_STR, "latest": {"type": "boolean"}, "instances": {"type": "integer"},
        "open": {"type": "integer"}, "by_status": {"type": "object", "additionalProperties": {"type": "integer"}}}},
    "Process": {"type": "object", "properties": {
        "process_id": {"type": "string"}, "name": NULLABLE_STR, "latest_version_id": {"type": "integer"},
        "latest_version": {"type": "integer"}, "versions": {"type": "array", "items": _ref("ProcessVersion")}}},
    "ProcessList": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": _ref("Process")}}},
    "VersionFile": {"type": "object", "properties": {
        "id": {"type": "integer"}, "file": {"type": "string"}, "xml": {"type": "string"},
        "files": {"type": "array", "items": {"type": "string"}},
        "dependencies": {"type": "array", "items": {"type": "string"}}}},
    "VersionDiff": {"type": "object", "properties": {
        "from": {"type": "object"}, "to": {"type": "object"},
        "added": {"type": "array", "items": {"type": "object"}},
        "removed": {"type": "array", "items": {"type": "object"}},
        "changed": {"type": "array", "items": {"type": "object"}}}},
    "Reason": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 1, "description": "why (kept in the audit trail)"}}},
    "InstanceRow": {"type": "object", "properties": {
        "id": {"type": "integer"}, "process_id": {"type": "string"}, "process_version_id": {"type": "integer"},
        "version": {"type": "integer"}, "status": {"enum": ["running", "waiting", "incident", "suspended",
                                                            "completed", "cancelled"]},
        "business_key": NULLABLE_STR, "started_by": NULLABLE_STR, "started_at": TIME, "updated_at": TIME,
        "ended_at": NULLABLE_TIME, "incident": {"type": ["object", "null"]},
        "whistle": {"type": ["object", "null"]}}},
    "InstanceList": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": _ref("InstanceRow")}, "total": NULLABLE_INT,
        "next_after": {"type": ["integer", "null"], "description": "pass as `after` for the next page"},
        "limit": {"type": "integer"}}},
    "InstanceDetail": {"type": "object", "properties": {
        "id": {"type": "integer"}, "status": {"type": "string"}, "process_id": {"type": "string"},
        "process_name": NULLABLE_STR, "version": {"type": "integer"}, "process_version_id": {"type": "integer"},
        "business_key": NULLABLE_STR, "incident": {"type": ["object", "null"]},
        "active_tasks": {"type": "array", "items": {"type": "object"}},
        "timers": {"type": "array", "items": {"type": "object"}},
        "waiting_tasks": {"type": "array", "items": {"type": "object"}},
        "audit": {"type": "array", "items": {"type": "object"}},
        "elements": {"type": "object", "description": "BPMN element ids by state: completed, active, waiting, failed"},
        "data": {"type": "object"}}},
    "InstanceAction": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 1},
        "task_uuid": {"type": "string", "description": "fire_timer: the armed timer's task id"},
        "task_id": {"type": "string", "description": "reassign: the ready task's id"},
        "assignee": {"type": ["string", "null"], "description": "reassign: username (null: back to the role)"},
        "target_version_id": {"type": "integer", "description": "migrate: default the newest version"},
        "changes": {"type": "object", "description": "edit_data (suspended only): keys to set"},
        "remove": {"type": "array", "items": {"type": "string"}, "description": "edit_data: keys to remove"}}},
    "ActionDone": {"type": "object", "properties": {
        "instance_id": {"type": "integer"}, "action": {"type": "string"}, "status": {"type": "string"},
        "version": {"type": "integer"}, "process_version_id": {"type": "integer"},
        "incident": {"type": ["object", "null"]}}},
    "ActionRefused": {"allOf": [_ref("Error"), {"type": "object", "properties": {
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "state": {"type": "string"}}}}}}]},
    "BulkMigration": {"type": "object", "properties": {
        "migrated": {"type": "array", "items": {"type": "integer"}},
        "refused": {"type": "array", "items": {"type": "object"}}}},
}


def paths(secured: list) -> dict:
    version_id = {"name": "version_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    instance_id = {"name": "instance_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    upload = {"multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": ".bpmn/.dmn files deployed together as one set"},
        "note": {"type": "string"}}}},
        "application/json": {"schema": {"type": "object", "required": ["files"], "properties": {
            "files": {"type": "object", "additionalProperties": {"type": "string"},
                      "description": "file name -> XML text"}}}}}
    query = [
        {"name": "process", "in": "query", "schema": {"type": "string"}, "description": "process id"},
        {"name": "version", "in": "query", "schema": {"type": "integer"}, "description": "version number"},
        {"name": "version_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "status", "in": "query", "schema": {"type": "string"}, "description": "comma-separated statuses"},
        {"name": "community", "in": "query", "schema": {"type": "string"},
         "description": "community, street or district id of the whistle"},
        {"name": "department", "in": "query", "schema": {"type": "string"},
         "description": "lead or cooperating department id"},
        {"name": "overdue", "in": "query", "schema": {"enum": ["1", "0", "true", "false"]}},
        {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"},
         "description": "inclusive (Asia/Shanghai)"},
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "whistle number or title"},
        {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "keyset: previous next_after"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}]
    return {
        "/processes": {
            "get": {"operationId": "listProcesses", "summary": "Deployed processes and their versions (policy staff)",
                    "security": secured, "responses": {"200": _json(_ref("ProcessList"), "Every process, newest version first"),
                                                       **_errors(401, 403)}},
            "post": {"operationId": "deployProcesses", "summary": "Deploy BPMN/DMN files as new versions (policy staff)",
                     "security": secured, "requestBody": {"required": True, "content": upload},
                     "responses": {"201": _json(_ref("Deployed"), "New versions created"),
                                   "200": _json(_ref("Deployed"), "Identical to the newest versions: nothing created"),
                                   "422": _json(_ref("DeployRefused"), "Refused: each problem with its element and line"),
                                   **_errors(400, 401, 403, 413)}}},
        "/processes/check": {"post": {
            "operationId": "checkProcesses", "summary": "Check files without deploying (policy staff)",
            "security": secured, "requestBody": {"required": True, "content": upload},
            "responses": {"200": _json(_ref("CheckResult"), "The problems ([] when it would deploy)"),
                          **_errors(400, 401, 403, 413, 422)}}},
        "/versions/{version_id}": {"get": {
            "operationId": "getVersion", "summary": "The BPMN text of a version (policy staff)", "security": secured,
            "parameters": [version_id], "responses": {"200": _json(_ref("VersionFile"), "The file as deployed"),
                                                      **_errors(401, 403, 404)}}},
        "/versions/{a}/diff/{b}": {"get": {
            "operationId": "diffVersions", "summary": "Elements added, removed and changed from version a to b",
            "security": secured,
            "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}} for n in "ab"],
            "responses": {"200": _json(_ref("VersionDiff"), "The differences"), **_errors(401, 403, 404)}}},
        "/versions/{version_id}/rollback": {"post": {
            "operationId": "rollbackVersion", "summary": "Deploy an old version's content as the newest version",
            "security": secured, "parameters": [version_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Reason")}}},
            "responses": {"201": _json(_ref("Deployed"), "Deployed as a new version"),
                          "200": _json(_ref("Deployed"), "Already the newest content"), **_errors(400, 401, 403, 404, 422)}}},
        "/versions/{version_id}/migrate": {"post": {
            "operationId": "bulkMigrate", "summary": "Migrate every open instance of a version (administrators)",
            "security": secured, "parameters": [version_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason", "target_version_id"],
                "properties": {"reason": {"type": "string", "minLength": 1}, "target_version_id": {"type": "integer"}}}}}},
            "responses": {"200": _json(_ref("BulkMigration"), "Migrated ids and refusals with reasons"),
                          **_errors(400, 401, 403, 404, 422)}}},
        "/versions/{version_id}/overview": {"get": {
            "operationId": "versionOverview", "summary": "Instances per diagram element (administrators)",
            "security": secured, "parameters": [version_id],
            "responses": {"200": _json({"type": "object"}, "{statuses, elements: {id: {ready, waiting, incidents}}}"),
                          **_errors(401, 403, 404)}}},
        "/instances": {"get": {
            "operationId": "listInstances", "summary": "Process instances, newest first, keyset-paged (administrators)",
            "security": secured, "parameters": query,
            "responses": {"200": _json(_ref("InstanceList"), "A page of instances"), **_errors(401, 403, 422)}}},
        "/instances/{instance_id}": {"get": {
            "operationId": "getInstance", "summary": "One instance: tasks, timers, data, audit, incident (administrators)",
            "security": secured, "parameters": [instance_id],
            "responses": {"200": _json(_ref("InstanceDetail"), "The instance"), **_errors(401, 403, 404)}}},
        "/instances/{instance_id}/{action}": {"post": {
            "operationId": "instanceAction", "summary": "suspend, resume, cancel, retry, fire_timer, reassign, migrate "
                                                        "or edit_data, with a required reason (administrators)",
            "security": secured,
            "parameters": [instance_id, {"name": "action", "in": "path", "required": True, "schema": {
                "enum": ["suspend", "resume", "cancel", "retry", "fire_timer", "reassign", "migrate", "edit_data"]}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("InstanceAction")}}},
            "responses": {"200": _json(_ref("ActionDone"), "Done (audited)"), **_errors(400, 401, 403, 404, 409, 413, 422)}}},
    }
