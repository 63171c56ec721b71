// The decision table editor: dmn-js Modeler over processes/decisions/priority.dmn. "检查" and
// "保存并部署" post the XML; the server deploys it together with the processes that use it.
import DmnModeler from "dmn-js/lib/Modeler";

function csrf() {
  const meta = document.querySelector("meta[name='csrf-token']");
  return meta ? meta.content : "";
}

async function main(root) {
  const text = JSON.parse(root.dataset.text || "{}");
  const status = root.querySelector("[data-status]");
  const list = root.querySelector("[data-problems]");
  const modeler = new DmnModeler({ container: root.querySelector("[data-canvas]") });
  window.wrDmn = modeler;
  try {
    await modeler.importXML(JSON.parse(root.querySelector("[data-xml]").textContent));
    const views = modeler.getViews();
    const table = views.find((v) => v.type === "decisionTable");
    if (table) await modeler.open(table);
  } catch (err) {
    status.textContent = (text.error || "") + err.message;
    root.dataset.rendered = "error";
    return;
  }

  async function send(checkOnly) {
    const { xml } = await modeler.saveXML({ format: true });
    const response = await fetch(root.dataset.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ xml, check_only: checkOnly }),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { ok: false, errors: [{ message: `HTTP ${response.status}` }] }; }
    const problems = data.errors || [];
    list.innerHTML = "";
    list.hidden = problems.length === 0;
    for (const p of problems) {
      const li = document.createElement("li");
      li.textContent = [p.file, p.element, p.line ? `#${p.line}` : null].filter(Boolean).join(" · ") + "：" + p.message;
      list.appendChild(li);
    }
    status.textContent = data.ok ? (text.ok || "OK") : (text.problems || "{n}").replace("{n}", problems.length);
    root.dataset.checked = data.ok ? "ok" : "problems";
    if (!checkOnly && data.ok && data.redirect) window.location.href = data.redirect;
  }

  root.querySelector("[data-action='check']").addEventListener("click", () => send(true));
  root.querySelector("[data-action='save']").addEventListener("click", () => {
    if (window.confirm(text.confirm || "?")) send(false);
  });
  root.dataset.rendered = "true";
}

document.querySelectorAll("[data-dmn-editor]").forEach(main);
