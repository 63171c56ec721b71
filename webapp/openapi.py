"""The OpenAPI 3.1 document of /api/v1."""
from __future__ import annotations


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "Malformed request (e.g. invalid JSON)", 401: "Missing, invalid or expired token",
            403: "Not allowed for this officer", 404: "No such resource (or not visible)",
            409: "The task is no longer ready (done by a colleague) or the instance is not active",
            413: "Request body too large", 422: "Validation failed; `errors` lists the fields",
            429: "Too many login attempts"}
    return {str(c): _json(_ref("ValidationError" if c == 422 else "Error"), text[c]) for c in codes}


NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "examples": ["task_not_ready"]},
            "message": {"type": "string", "description": "Readable, in the request's language (zh default)"}}}},
    },
    "ValidationError": {
        "allOf": [_ref("Error"), {"type": "object", "required": ["errors"], "properties": {
            "errors": {"type": "array", "items": _ref("FieldError")}}}],
    },
    "FieldError": {"type": "object", "required": ["field", "message"],
                   "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
    "Credentials": {"type": "object", "required": ["username", "password"], "additionalProperties": False,
                    "properties": {"username": {"type": "string", "minLength": 1},
                                   "password": {"type": "string", "minLength": 1}}},
    "Token": {"type": "object", "required": ["token", "token_type", "expires_in"],
              "properties": {"token": {"type": "string"}, "token_type": {"const": "Bearer"},
                             "expires_in": {"type": "integer", "description": "seconds"}}},
    "Me": {"type": "object", "required": ["username", "role", "unit_id", "unit_name"],
           "properties": {"username": {"type": "string"}, "display_name": {"type": "string"},
                          "role": {"type": "string"}, "role_name": {"type": "string"},
                          "unit_id": NULLABLE_STR, "unit_name": NULLABLE_STR}},
    "WhistleIn": {"type": "object", "required": ["title"], "additionalProperties": False, "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "description": {"type": "string", "maxLength": 5000},
        "category": {"type": "string", "description": "e.g. 安全, 明灯, 市容环境, 交通出行"},
        "community_id": {"type": "string", "description": "Required unless the officer has exactly one community"},
        "location": {"type": "string", "maxLength": 300},
        "reporter": {"type": "string", "maxLength": 200}}},
    "WhistleCreated": {"type": "object", "required": ["id", "whistle_no", "instance_id"], "properties": {
        "id": {"type": "integer"}, "whistle_no": {"type": "string"}, "instance_id": {"type": ["integer", "null"]}}},
    "NextTask": {"type": "object", "required": ["id", "task", "name", "role", "unit_id", "due_at"], "properties": {
        "id": {"type": "string"}, "task": {"type": "string"}, "name": NULLABLE_STR, "role": NULLABLE_STR,
        "unit_id": NULLABLE_STR, "due_at": NULLABLE_TIME}},
    "WhistleRecord": {"type": "object", "required": ["id", "whistle_no", "title", "stage", "timeline"], "properties": {
        "id": {"type": "integer"}, "whistle_no": {"type": "string"}, "title": {"type": "string"},
        "description": NULLABLE_STR, "category": NULLABLE_STR, "location": NULLABLE_STR,
        "community_id": {"type": "string"}, "community_name": {"type": "string"},
        "street_id": NULLABLE_STR, "district_id": NULLABLE_STR,
        "stage": {"type": "string"}, "stage_name": {"type": "string"},
        "lead_department_id": NULLABLE_STR, "cooperating_department_ids": {"type": "array", "items": {"type": "string"}},
        "task_order_no": NULLABLE_STR, "dispatched_at": NULLABLE_TIME, "report_due": NULLABLE_TIME,
        "complete_due": NULLABLE_TIME, "target_due": NULLABLE_TIME,
        "reported_at": NULLABLE_TIME, "completed_at": NULLABLE_TIME,
        "report_overdue": {"type": "boolean"}, "complete_overdue": {"type": "boolean"},
        "extension_count": {"type": "integer"}, "satisfaction_rate": {"type": ["number", "null"]},
        "created_at": {"type": "string", "format": "date-time"}, "closed_at": NULLABLE_TIME,
        "departments": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "role": {"enum": ["lead", "cooperating", "consulted"]}}}},
        "timeline": {"type": "array", "items": {"type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"}, "stage": NULLABLE_STR,
            "actor": NULLABLE_STR, "text": NULLABLE_STR, "reply": NULLABLE_STR}}},
        "consultations": {"type": "array", "items": {"type": "object"}},
        "task_orders": {"type": "array", "items": {"type": "object"}},
        "extensions": {"type": "array", "items": {"type": "object"}},
        "surveys": {"type": "array", "items": {"type": "object"}},
        "evaluations": {"type": "array", "items": {"type": "object"}},
        "next_tasks": {"type": "array", "items": _ref("NextTask")}}},
    "Task": {"type": "object", "required": ["id", "task", "name", "whistle_id", "instance_id", "due_at"], "properties": {
        "id": {"type": "string", "description": "task UUID"},
        "task": {"type": "string", "description": "BPMN task id, e.g. triage"},
        "name": NULLABLE_STR, "instance_id": {"type": "integer"}, "whistle_id": {"type": ["integer", "null"]},
        "whistle_no": NULLABLE_STR, "title": NULLABLE_STR, "category": NULLABLE_STR, "role": NULLABLE_STR,
        "unit_id": NULLABLE_STR, "assignee": NULLABLE_STR, "due_at": NULLABLE_TIME,
        "created_at": {"type": "string", "format": "date-time"},
        "deadline_state": {"enum": ["overdue", "soon", "ok", "none"]}}},
    "TaskList": {"type": "object", "required": ["items", "total"], "properties": {
        "items": {"type": "array", "items": _ref("Task")}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "pages": {"type": "integer"}}},
    "TaskDetail": {"allOf": [_ref("Task"), {"type": "object", "required": ["form", "data"], "properties": {
        "form": {"type": ["object", "null"],
                 "description": "JSON Schema 2020-12 of the form; directory references expanded to oneOf of unit ids"},
        "data": {"type": "object", "description": "current values of the form's fields"},
        "context": {"type": "object", "description": "facts of this task (e.g. the department a multi-instance task is about)"}}}]},
    "TaskSubmit": {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "object", "description": "values valid against the task's form"}}},
    "TaskDone": {"type": "object", "required": ["task_id", "instance_id", "status", "next_tasks"], "properties": {
        "task_id": {"type": "string"}, "whistle_id": {"type": ["integer", "null"]}, "instance_id": {"type": "integer"},
        "status": {"type": "string"}, "next_tasks": {"type": "array", "items": _ref("NextTask")},
        "handed_to": {"type": "object", "required": ["closed", "tasks"],
                      "description": "where the whistle went and who holds it now: closed, or the tasks "
                                     "waiting now with their unit names (governance.handoffs.whereabouts)",
                      "properties": {"closed": {"type": "boolean"}, "stage": NULLABLE_STR, "stage_name": NULLABLE_STR,
                                     "tasks": {"type": "array", "items": {"type": "object", "properties": {
                                         "task": {"type": "string"}, "name": NULLABLE_STR, "role": NULLABLE_STR,
                                         "unit_id": NULLABLE_STR, "unit_name": NULLABLE_STR}}}}}}},
}


def document(server: str = "") -> dict:
    secured = [{"bearer": []}]
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "吹哨报到 (Whistle & Report) API", "version": "1.0.0",
                 "description": "Report whistles, read the register, do your unit's tasks. "
                                "Log in with POST /session, then send `Authorization: Bearer TOKEN`. "
                                "Messages follow Accept-Language (Chinese by default)."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": f"{server}/api/v1"}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "token from POST /session"}}},
        "paths": {
            "/session": {"post": {
                "operationId": "login", "summary": "Log in: exchange username and password for a token",
                "security": [], "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Credentials")}}},
                "responses": {"200": _json(_ref("Token"), "A signed token that expires"), **_errors(400, 401, 413, 422, 429)}}},
            "/me": {"get": {
                "operationId": "me", "summary": "Who I am", "security": secured,
                "responses": {"200": _json(_ref("Me"), "The officer of the token"), **_errors(401)}}},
            "/whistles": {"post": {
                "operationId": "reportWhistle", "summary": "Report a problem (intake, R1)", "security": secured,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("WhistleIn")}}},
                "responses": {"201": _json(_ref("WhistleCreated"), "Registered; its process started"),
                              **_errors(400, 401, 403, 413, 422)}}},
            "/whistles/{key}": {"get": {
                "operationId": "getWhistle", "summary": "A whistle's register record (by id or number)",
                "security": secured,
                "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json(_ref("WhistleRecord"), "The record"), **_errors(401, 403, 404)}}},
            "/tasks": {"get": {
                "operationId": "listTasks", "summary": "My unit's ready tasks", "security": secured,
                "parameters": [
                    {"name": "task", "in": "query", "schema": {"type": "string"}, "description": "BPMN task id"},
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {"name": "overdue", "in": "query", "schema": {"enum": ["1", "true", "0", "false"]}},
                    {"name": "order", "in": "query", "schema": {"enum": ["newest", "due"]}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                "responses": {"200": _json(_ref("TaskList"), "Tasks, newest first or by due date"), **_errors(400, 401)}}},
            "/tasks/{task_id}": {
                "get": {"operationId": "getTask", "summary": "A task with its form and current data",
                        "security": secured, "parameters": [task_id],
                        "responses": {"200": _json(_ref("TaskDetail"), "The task"), **_errors(401, 403, 404)}},
                "post": {"operationId": "completeTask", "summary": "Complete a task with its form data",
                         "security": secured, "parameters": [task_id],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TaskSubmit")}}},
                         "responses": {"200": _json(_ref("TaskDone"), "Done; the whistle's next tasks"),
                                       "202": _json(_ref("TaskDone"), "Saved, but the next step failed: an incident "
                                                    "an administrator retries (status 'incident', message)"),
                                       **_errors(400, 401, 403, 404, 409, 413, 422)}}},
            "/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
    }
    from .openapi_admin import SCHEMAS as ADMIN_SCHEMAS, paths as admin_paths
    doc["components"]["schemas"] = {**doc["components"]["schemas"], **ADMIN_SCHEMAS}
    doc["paths"].update(admin_paths(secured))
    from .openapi_stats import SCHEMAS as STATS_SCHEMAS, paths as stats_paths
    doc["components"]["schemas"] = {**doc["components"]["schemas"], **STATS_SCHEMAS}
    doc["paths"].update(stats_paths(secured))
    return doc
