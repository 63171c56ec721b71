// The diagram on the whistle page: bpmn-js NavigatedViewer (pan/zoom), the ready tasks marked.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

async function show(container) {
  const source = container.querySelector("script[type='application/json']");
  if (!source) return;
  const active = JSON.parse(container.dataset.active || "[]");
  const canvasEl = container.querySelector(".bpmn-canvas");
  const viewer = new NavigatedViewer({ container: canvasEl });
  try {
    await viewer.importXML(JSON.parse(source.textContent));
    const canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport");
    const registry = viewer.get("elementRegistry");
    for (const id of active) {
      if (registry.get(id)) canvas.addMarker(id, "wr-current");
    }
    container.dataset.rendered = "true";
  } catch (err) {
    canvasEl.textContent = container.dataset.errorText || String(err);
    container.dataset.rendered = "error";
  }
}

document.querySelectorAll("[data-bpmn-viewer]").forEach(show);
