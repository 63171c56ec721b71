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
    const registry = viewer.get("elementRegistry");
    // size the box to the drawing, then keep labels readable: a wide diagram is shown around the
    // current task at a legible scale (pan and zoom show the rest)
    const inner = canvas.viewbox().inner;
    const readable = 0.8;
    canvasEl.style.height = `${Math.round(Math.min(640, Math.max(280, inner.height * readable + 60)))}px`;
    canvas.resized();
    canvas.zoom("fit-viewport");
    const current = active.map((id) => registry.get(id)).filter(Boolean);
    for (const element of current) canvas.addMarker(element.id, "wr-current");
    if (canvas.zoom() < 0.6 && current.length) {   // centre the current position at a legible scale
      canvas.zoom(readable);
      const left = Math.min(...current.map((e) => e.x)), top = Math.min(...current.map((e) => e.y));
      const right = Math.max(...current.map((e) => e.x + (e.width || 0)));
      const bottom = Math.max(...current.map((e) => e.y + (e.height || 0)));
      const box = canvas.viewbox();
      canvas.viewbox({ x: (left + right - box.width) / 2, y: (top + bottom - box.height) / 2,
                       width: box.width, height: box.height });
    }
    container.dataset.rendered = "true";
  } catch (err) {
    canvasEl.textContent = container.dataset.errorText || String(err);
    container.dataset.rendered = "error";
  }
}

document.querySelectorAll("[data-bpmn-viewer]").forEach(show);
