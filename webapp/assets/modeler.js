// The policy staff's modeler: bpmn-js Modeler + properties panel with our extension properties
// (spiffworkflow namespace): user task form / role / unit key, service task handler + parameters.
// Choices (forms, handlers, roles) come from the server, so only existing ones can be picked.
// "检查" posts the XML to the server (engine.deploy.check) and marks each problem on its element;
// deploy is enabled only after a passing check of the current diagram.
// bpmnlint (recommended rules, ./lint-config.js) marks modelling problems while editing.
import BpmnModeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, useService } from "bpmn-js-properties-panel";
import { ListGroup, SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { h } from "@bpmn-io/properties-panel/preact";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { layoutProcess } from "bpmn-auto-layout";
import lintModule from "bpmn-js-bpmnlint";
import { lintConfig } from "./lint-config";
import spiffDescriptor from "./spiffworkflow-moddle.json";

let CHOICES = { forms: [], handlers: [], roles: [], unit_keys: [] };
const PARAM_TYPES = ["str", "int", "float", "bool", "any"];

// -- moddle helpers ------------------------------------------------------------------------------

function extensionValues(bo) {
  const ext = bo.get("extensionElements");
  return ext ? ext.get("values") : [];
}

function findExtension(bo, type) {
  return extensionValues(bo).find((v) => is(v, type));
}

function ensureExtensionElements(element, bo, bpmnFactory, modeling) {
  let ext = bo.get("extensionElements");
  if (!ext) {
    ext = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return ext;
}

function ensureExtension(element, type, attrs, services) {
  const { bpmnFactory, modeling } = services;
  const bo = getBusinessObject(element);
  const ext = ensureExtensionElements(element, bo, bpmnFactory, modeling);
  let found = ext.get("values").find((v) => is(v, type));
  if (!found) {
    found = bpmnFactory.create(type, attrs);
    found.$parent = ext;
    modeling.updateModdleProperties(element, ext, { values: [...ext.get("values"), found] });
  }
  return found;
}

function getProperty(element, name) {
  const props = findExtension(getBusinessObject(element), "spiffworkflow:Properties");
  const prop = props && props.get("properties").find((p) => p.name === name);
  return prop ? prop.value : "";
}

function setProperty(element, name, value, services) {
  const { bpmnFactory, modeling } = services;
  const existing = findExtension(getBusinessObject(element), "spiffworkflow:Properties");
  if (!value && !existing) return;
  const props = existing || ensureExtension(element, "spiffworkflow:Properties", { properties: [] }, services);
  const list = props.get("properties");
  const prop = list.find((p) => p.name === name);
  if (!value) {
    if (prop) modeling.updateModdleProperties(element, props, { properties: list.filter((p) => p !== prop) });
    return;
  }
  if (prop) {
    modeling.updateModdleProperties(element, prop, { value });
  } else {
    const created = bpmnFactory.create("spiffworkflow:Property", { name, value });
    created.$parent = props;
    modeling.updateModdleProperties(element, props, { properties: [...list, created] });
  }
}

function operatorOf(element) {
  return findExtension(getBusinessObject(element), "spiffworkflow:ServiceTaskOperator");
}

function parametersOf(element) {
  const op = operatorOf(element);
  const list = op && op.get("parameterList");
  return list ? list.get("parameters") : [];
}

function ensureParameterList(element, services) {
  const { bpmnFactory, modeling } = services;
  const op = ensureExtension(element, "spiffworkflow:ServiceTaskOperator", {}, services);
  let list = op.get("parameterList");
  if (!list) {
    list = bpmnFactory.create("spiffworkflow:Parameters", { parameters: [] });
    list.$parent = op;
    modeling.updateModdleProperties(element, op, { parameterList: list });
  }
  return list;
}

function addParameter(element, attrs, services) {
  const list = ensureParameterList(element, services);
  const param = services.bpmnFactory.create("spiffworkflow:Parameter", { type: "str", value: "", ...attrs });
  param.$parent = list;
  services.modeling.updateModdleProperties(element, list, { parameters: [...list.get("parameters"), param] });
  return param;
}

function useServices() {
  return { bpmnFactory: useService("bpmnFactory"), modeling: useService("modeling"),
           debounce: useService("debounceInput") };
}

// -- entries -------------------------------------------------------------------------------------

function PropertySelect(props) {
  const { element, id, name, label, description, options } = props;
  const services = useServices();
  return h(SelectEntry, {
    element, id, label, description,
    getValue: () => getProperty(element, name) || "",
    setValue: (value) => setProperty(element, name, value, services),
    getOptions: () => {
      const current = getProperty(element, name);
      const list = [{ value: "", label: "—" }, ...options()];
      if (current && !list.some((o) => o.value === current)) {
        list.push({ value: current, label: `${current}（不存在）` });
      }
      return list;
    },
  });
}

function PropertyText(props) {
  const { element, id, name, label, description } = props;
  const services = useServices();
  return h(TextFieldEntry, {
    element, id, label, description, debounce: services.debounce,
    getValue: () => getProperty(element, name) || "",
    setValue: (value) => setProperty(element, name, (value || "").trim(), services),
  });
}

function HandlerSelect(props) {
  const { element, id } = props;
  const services = useServices();
  return h(SelectEntry, {
    element, id, label: "处理程序（已注册）",
    description: "只能选择系统中已注册的处理程序。",
    getValue: () => (operatorOf(element) && operatorOf(element).id) || "",
    setValue: (value) => {
      const op = ensureExtension(element, "spiffworkflow:ServiceTaskOperator", {}, services);
      services.modeling.updateModdleProperties(element, op, { id: value || undefined });
      ensureParameterList(element, services);   // the schema wants <spiffworkflow:parameters>, even empty
      const handler = CHOICES.handlers.find((x) => x.id === value);
      if (handler) {
        const have = parametersOf(element).map((p) => p.id);
        for (const name of handler.parameters || []) {
          if (!have.includes(name)) addParameter(element, { id: name, value: name }, services);
        }
      }
    },
    getOptions: () => {
      const current = operatorOf(element) && operatorOf(element).id;
      const list = [{ value: "", label: "—" }, ...CHOICES.handlers.map((x) => ({ value: x.id, label: x.id }))];
      if (current && !list.some((o) => o.value === current)) list.push({ value: current, label: `${current}（未注册）` });
      return list;
    },
  });
}

function ParamText(props) {
  const { element, id, param, field, label, description } = props;
  const services = useServices();
  return h(TextFieldEntry, {
    element, id, label, description, debounce: services.debounce,
    getValue: () => param.get(field) || "",
    setValue: (value) => services.modeling.updateModdleProperties(element, param, { [field]: value || "" }),
  });
}

function ParamType(props) {
  const { element, id, param } = props;
  const services = useServices();
  return h(SelectEntry, {
    element, id, label: "类型",
    getValue: () => param.get("type") || "str",
    setValue: (value) => services.modeling.updateModdleProperties(element, param, { type: value }),
    getOptions: () => PARAM_TYPES.map((t) => ({ value: t, label: t })),
  });
}

function userTaskGroup(element) {
  return {
    id: "wr-user-task", label: "吹哨报到：办理设置",
    entries: [
      { id: "wr-form", element, component: PropertySelect, isEdited: isSelectEntryEdited, name: "formJsonSchemaFilename",
        label: "表单", description: "forms/ 中的 JSON Schema 表单。",
        options: () => CHOICES.forms.map((f) => ({ value: f.name, label: f.title ? `${f.title}（${f.name}）` : f.name })) },
      { id: "wr-role", element, component: PropertySelect, isEdited: isSelectEntryEdited, name: "role",
        label: "办理角色", description: "留空时使用任务所在泳道的编号作为角色。",
        options: () => CHOICES.roles.map((r) => ({ value: r.id, label: `${r.name}（${r.id}）` })) },
      { id: "wr-unit", element, component: PropertySelect, isEdited: isSelectEntryEdited, name: "unit",
        label: "办理单位数据键", description: "留空时使用角色的默认数据键（如 community_id）。",
        options: () => CHOICES.unit_keys.map((k) => ({ value: k, label: k })) },
      { id: "wr-due", element, component: PropertyText, isEdited: isTextFieldEntryEdited, name: "due",
        label: "期限数据键", description: "保存 ISO 8601 期限的数据键（可选）。" },
    ],
  };
}

function serviceTaskGroups(element, services) {
  const params = parametersOf(element);
  return [
    { id: "wr-service-task", label: "吹哨报到：处理程序",
      entries: [{ id: "wr-handler", element, component: HandlerSelect, isEdited: isSelectEntryEdited }] },
    { id: "wr-parameters", label: "处理程序参数", component: ListGroup, element,
      add: (event) => { event.stopPropagation(); addParameter(element, { id: `param${params.length + 1}` }, services); },
      items: params.map((param, index) => ({
        id: `wr-param-${index}`, label: param.id || "（未命名）",
        entries: [
          { id: `wr-param-${index}-id`, element, param, field: "id", label: "名称", component: ParamText, isEdited: isTextFieldEntryEdited },
          { id: `wr-param-${index}-type`, element, param, component: ParamType, isEdited: isSelectEntryEdited },
          { id: `wr-param-${index}-value`, element, param, field: "value", label: "值（表达式）",
            description: "数据键、数字或带引号的文字，如 'P7D'。", component: ParamText, isEdited: isTextFieldEntryEdited },
        ],
        autoFocusEntry: `wr-param-${index}-id`,
        remove: () => {
          const list = ensureParameterList(element, services);
          services.modeling.updateModdleProperties(element, list, { parameters: list.get("parameters").filter((p) => p !== param) });
        },
      })),
    },
  ];
}

function WhistlePropertiesProvider(propertiesPanel, injector) {
  this._injector = injector;
  propertiesPanel.registerProvider(400, this);
}
WhistlePropertiesProvider.prototype.getGroups = function (element) {
  const injector = this._injector;
  return (groups) => {
    const services = { bpmnFactory: injector.get("bpmnFactory"), modeling: injector.get("modeling") };
    if (is(element, "bpmn:UserTask")) groups.splice(1, 0, userTaskGroup(element));
    if (is(element, "bpmn:ServiceTask")) groups.splice(1, 0, ...serviceTaskGroups(element, services));
    return groups;
  };
};
WhistlePropertiesProvider.$inject = ["propertiesPanel", "injector"];

const WhistlePropertiesModule = { __init__: ["whistlePropertiesProvider"], whistlePropertiesProvider: ["type", WhistlePropertiesProvider] };

// -- references bpmn-js cannot resolve --------------------------------------------------------------
// SpiffWorkflow names data by variable: <bpmn:loopDataInputRef>involved_department_ids</…> points at
// no element of the file, so bpmn-moddle drops it on import and the saved diagram would lose it.
// Put back a detached placeholder with that id: it serialises as the same text.
function keepUnresolvedReferences(modeler, warnings) {
  const moddle = modeler.get("moddle");
  let kept = 0;
  for (const warning of warnings) {
    const match = /^unresolved reference <(.+)>$/.exec(warning.message || "");
    const element = warning.element;
    if (!match || !element || !warning.property || !element.$descriptor) continue;
    const desc = element.$descriptor.propertiesByName[warning.property];
    if (!desc || !desc.isReference) continue;
    let placeholder;
    try {
      placeholder = moddle.create(desc.type, { id: match[1] });
    } catch (e) {
      placeholder = moddle.create("bpmn:BaseElement", { id: match[1] });
    }
    if (desc.isMany) {
      element.get(desc.name).push(placeholder);
    } else {
      element.set(desc.name, placeholder);
    }
    kept += 1;
  }
  return kept;
}

// -- page ----------------------------------------------------------------------------------------

function csrf() {
  const meta = document.querySelector("meta[name='csrf-token']");
  return meta ? meta.content : "";
}

async function postJSON(url, body) {
  const response = await fetch(url, { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { errors: [{ message: `HTTP ${response.status}` }] }; }
  return { status: response.status, data };
}

async function main(root) {
  const text = JSON.parse(root.dataset.text || "{}");
  const status = root.querySelector("[data-testid='check-status']");
  const list = root.querySelector("[data-testid='problems']");
  const deployButton = root.querySelector("[data-action='deploy']");
  const fileInput = root.querySelector("#wr-filename");
  try {
    const response = await fetch(root.dataset.choicesUrl, { credentials: "same-origin" });
    if (response.ok) CHOICES = await response.json();
  } catch (e) { /* the panel still works with empty choices */ }
  const modeler = new BpmnModeler({
    container: root.querySelector("[data-canvas]"),
    propertiesPanel: { parent: root.querySelector("[data-properties]") },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, WhistlePropertiesModule, lintModule],
    moddleExtensions: { spiffworkflow: spiffDescriptor },
    linting: { bpmnlint: lintConfig, active: true },
  });
  modeler.on("linting.completed", ({ issues }) => {   // for tests: element ids with lint issues
    root.dataset.lintIssues = Object.keys(issues || {}).sort().join(" ");
    root.dataset.linted = String(Number(root.dataset.linted || 0) + 1);
  });
  window.wrModeler = modeler;   // for tests and the curious
  let xml = JSON.parse(root.querySelector("[data-xml]").textContent);
  if (!/BPMNShape/.test(xml)) {   // no diagram interchange (e.g. uploaded through the API): lay it out
    try { xml = await layoutProcess(xml); root.dataset.laidOut = "true"; } catch (e) { /* shown as an error below */ }
  }
  try {
    const result = await modeler.importXML(xml);
    root.dataset.kept = String(keepUnresolvedReferences(modeler, result.warnings || []));
    modeler.get("canvas").zoom("fit-viewport");
    root.dataset.warnings = String((result.warnings || []).length);
  } catch (err) {
    status.textContent = (text.error || "") + err.message;
    root.dataset.rendered = "error";
    return;
  }
  const canvas = modeler.get("canvas");
  const overlays = modeler.get("overlays");
  const registry = modeler.get("elementRegistry");
  let marked = [];
  let checkedXml = null;

  function clearMarks() {
    for (const id of marked) { if (registry.get(id)) canvas.removeMarker(id, "wr-problem"); }
    overlays.remove({ type: "wr-problem" });
    marked = [];
  }

  function showProblems(problems) {
    clearMarks();
    list.innerHTML = "";
    list.hidden = problems.length === 0;
    const byElement = {};
    for (const p of problems) {
      const li = document.createElement("li");
      const where = p.element ? p.element : (text.whole || "");
      const line = p.line ? " · " + (text.line || "{line}").replace("{line}", p.line) : "";
      li.textContent = `${where}${line}：${p.message}`;
      li.dataset.element = p.element || "";
      if (p.element && registry.get(p.element)) {
        li.classList.add("wr-problem-link");
        li.tabIndex = 0;
        const select = () => { modeler.get("selection").select(registry.get(p.element)); canvas.scrollToElement(registry.get(p.element)); };
        li.addEventListener("click", select);
        li.addEventListener("keydown", (e) => { if (e.key === "Enter") select(); });
        (byElement[p.element] = byElement[p.element] || []).push(p.message);
      }
      list.appendChild(li);
    }
    for (const [id, messages] of Object.entries(byElement)) {
      const element = registry.get(id);
      if (element.waypoints) { canvas.addMarker(id, "wr-problem"); marked.push(id); continue; }
      canvas.addMarker(id, "wr-problem");
      marked.push(id);
      const badge = document.createElement("div");
      badge.className = "wr-problem-badge";
      badge.textContent = `⚠ ${messages.length}`;
      badge.title = messages.join("\n");
      badge.setAttribute("role", "img");
      badge.setAttribute("aria-label", messages.join("；"));
      overlays.add(id, "wr-problem", { position: { top: -14, right: 14 }, html: badge, scale: { min: 1 } });
    }
    const first = Object.keys(byElement)[0];
    if (first) {   // show the first problem at a readable size
      if (canvas.zoom() < 0.8) canvas.zoom(1);
      canvas.scrollToElement(registry.get(first), { top: 120, bottom: 120, left: 160, right: 160 });
    }
    root.dataset.problems = String(problems.length);
    root.dataset.marked = marked.join(" ");
  }

  async function currentXml() {
    const { xml: out } = await modeler.saveXML({ format: true });
    return out;
  }

  modeler.on("commandStack.changed", () => {
    checkedXml = null;
    deployButton.disabled = true;
  });

  root.querySelector("[data-action='check']").addEventListener("click", async () => {
    status.textContent = text.checking || "…";
    const out = await currentXml();
    const { data } = await postJSON(root.dataset.checkUrl, { name: fileInput.value, xml: out });
    const problems = data.errors || [];
    showProblems(problems);
    if (data.ok) {
      status.textContent = text.ok || "OK";
      checkedXml = out;
      deployButton.disabled = false;
    } else {
      status.textContent = (text.problems || "{n}").replace("{n}", problems.length);
      deployButton.disabled = true;
    }
    root.dataset.checked = data.ok ? "ok" : "problems";
  });

  deployButton.addEventListener("click", async () => {
    const out = await currentXml();
    if (out !== checkedXml) { deployButton.disabled = true; return; }
    if (!window.confirm(text.confirm || "?")) return;
    const { status: code, data } = await postJSON(root.dataset.deployUrl, { name: fileInput.value, xml: out });
    if (code === 201 || code === 200) {
      window.location.href = data.redirect;
    } else {
      showProblems(data.errors || []);
      status.textContent = (text.problems || "{n}").replace("{n}", (data.errors || []).length);
      deployButton.disabled = true;
    }
  });

  root.querySelector("[data-action='download']").addEventListener("click", async () => {
    const out = await currentXml();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([out], { type: "application/xml" }));
    link.download = fileInput.value || "diagram.bpmn";
    link.click();
  });
  root.dataset.rendered = "true";
}

document.querySelectorAll("[data-modeler]").forEach(main);
