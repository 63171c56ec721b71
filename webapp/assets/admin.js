// Administrators' and policy staff's pages: confirmation of irreversible actions, the instance
// diagram with completed / active / waiting / failed elements marked, the per-element overview
// (counts drawn on the diagram) and the live preview of the forms editor.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { layoutProcess } from "bpmn-auto-layout";

// diagrams deployed without diagram interchange (shapes) get a generated layout to be shown
async function withLayout(xml) {
  if (/BPMNShape/.test(xml)) return xml;
  try { return await layoutProcess(xml); } catch (e) { return xml; }
}

// every form with data-confirm asks first; a required reason is checked by the browser before
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !form.dataset.confirmed) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  }
}, true);

function openProcess(viewer, processId) {
  // a file with several processes: show the diagram whose plane draws this process
  const definitions = viewer.getDefinitions();
  const diagrams = (definitions && definitions.diagrams) || [];
  const match = diagrams.find((d) => {
    const target = d.plane && d.plane.bpmnElement;
    if (!target) return false;
    if (target.id === processId) return true;
    return (target.participants || []).some((p) => p.processRef && p.processRef.id === processId);
  });
  return match && match !== diagrams[0] ? viewer.open(match) : Promise.resolve();
}

async function render(container, decorate) {
  const source = container.querySelector("script[type='application/json']");
  const canvasEl = container.querySelector(".bpmn-canvas");
  const viewer = new NavigatedViewer({ container: canvasEl });
  try {
    await viewer.importXML(await withLayout(JSON.parse(source.textContent)));
    if (container.dataset.process) await openProcess(viewer, container.dataset.process);
    const canvas = viewer.get("canvas");
    const inner = canvas.viewbox().inner;
    if (inner.width > 0 && canvasEl.clientWidth > 0) {   // a wide diagram needs less height
      const wanted = canvasEl.clientWidth * inner.height / inner.width + 48;
      canvasEl.style.height = `${Math.round(Math.max(240, Math.min(canvasEl.clientHeight, wanted)))}px`;
      canvas.resized();
    }
    canvas.zoom("fit-viewport");
    decorate(viewer);
    container.dataset.rendered = "true";
  } catch (err) {
    canvasEl.textContent = (container.dataset.errorText || "") + " " + String(err);
    container.dataset.rendered = "error";
  }
}

document.querySelectorAll("[data-bpmn-states]").forEach((container) => render(container, (viewer) => {
  const states = JSON.parse(container.dataset.elements || "{}");
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const marked = [];
  for (const state of ["completed", "active", "waiting", "failed"]) {
    for (const id of states[state] || []) {
      if (registry.get(id)) { canvas.addMarker(id, `wr-${state}`); marked.push(`${state}:${id}`); }
    }
  }
  container.dataset.marked = marked.join(" ");
}));

document.querySelectorAll("[data-bpmn-overview]").forEach((container) => render(container, (viewer) => {
  const counts = JSON.parse(container.dataset.counts || "{}");
  const labels = JSON.parse(container.dataset.labels || "{}");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  let drawn = 0;
  for (const [id, c] of Object.entries(counts)) {
    if (!registry.get(id)) continue;
    const box = document.createElement("div");
    box.className = "wr-counts";
    for (const kind of ["ready", "waiting", "incidents"]) {
      if (!c[kind]) continue;
      const badge = document.createElement("span");
      badge.className = `wr-count wr-count-${kind}`;
      badge.textContent = String(c[kind]);
      badge.title = `${labels[kind] || kind}: ${c[kind]}`;
      badge.setAttribute("aria-label", badge.title);
      box.appendChild(badge);
    }
    if (!box.children.length) continue;
    overlays.add(id, "wr-count", { position: { bottom: 8, left: -6 }, html: box, scale: { min: 1 } });
    drawn += 1;
  }
  container.dataset.overlays = String(drawn);
}));

// forms editor: re-render the preview while typing (debounced), server-side with the task form macro
document.querySelectorAll("[data-form-editor]").forEach((form) => {
  const preview = document.querySelector("[data-preview]");
  const textarea = form.querySelector("textarea[name='schema']");
  const token = form.querySelector("input[name='csrf_token']").value;
  let timer = null;
  async function refresh() {
    const body = new URLSearchParams({ schema: textarea.value, csrf_token: token });
    const response = await fetch(form.dataset.previewUrl, { method: "POST", body, credentials: "same-origin" });
    if (response.ok) preview.innerHTML = await response.text();
  }
  textarea.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
  const button = form.querySelector("[data-action='preview']");
  if (button) button.addEventListener("click", (event) => { event.preventDefault(); refresh(); });
});
