// Report pages: ECharts charts drawn from the page's own figures (the tables below them hold the
// same numbers, so nothing is lost without JavaScript), and export buttons that run the export as
// a background job with a progress bar.
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, PieChart, AriaComponent, GridComponent, LegendComponent, TooltipComponent,
  CanvasRenderer]);

const FONT = 'system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
const COLORS = ["#a51d2d", "#1a5fb4", "#26a269", "#e5a50a", "#613583", "#986a44", "#63452c", "#2ec27e"];
const pct = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)}%`);

function optionFor(kind, rows, series) {
  const names = rows.map((r) => r.name);
  const base = { color: COLORS, textStyle: { fontFamily: FONT }, aria: { enabled: true },
    tooltip: { trigger: kind === "pie" ? "item" : "axis" }, legend: { top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true } };
  if (kind === "pie") {
    const [key, label] = series[0];
    return { ...base, legend: { type: "scroll", bottom: 0 },
      series: [{ type: "pie", name: label, radius: ["35%", "65%"], top: 0, bottom: 24,
        data: rows.map((r) => ({ name: r.name, value: r[key] })), label: { formatter: "{b}: {c}" } }] };
  }
  if (kind === "hbar") {
    const top = [...rows].sort((a, b) => b[series[0][0]] - a[series[0][0]]).slice(0, 15).reverse();
    return { ...base, xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: top.map((r) => r.name), axisLabel: { width: 160, overflow: "truncate" } },
      series: series.map(([key, label]) => ({ type: "bar", name: label, data: top.map((r) => r[key]) })) };
  }
  const rate = kind === "rate";
  return { ...base,
    tooltip: { trigger: "axis", valueFormatter: rate ? pct : undefined },
    xAxis: { type: "category", data: names, axisLabel: { interval: 0, hideOverlap: true } },
    yAxis: rate ? { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }
      : { type: "value", minInterval: 1 },
    series: series.map(([key, label]) => ({ type: kind === "line" ? "line" : "bar", name: label,
      data: rows.map((r) => r[key]), smooth: false,
      label: rate ? { show: rows.length <= 6, position: "top", formatter: (p) => pct(p.value) } : undefined })) };
}

function drawCharts() {
  const source = document.getElementById("wr-stats");
  if (!source) return;
  const figures = JSON.parse(source.textContent);
  const charts = [];
  document.querySelectorAll("[data-chart]").forEach((el) => {
    const rows = figures[el.dataset.source] || [];
    const series = JSON.parse(el.dataset.series || "[]");
    const chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(optionFor(el.dataset.chart, rows, series));
    el.dataset.rendered = "1";
    charts.push(chart);
  });
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => charts.forEach((c) => c.resize()), 150);
  });
}

// -- exports with progress ---------------------------------------------------------------------

function exportForm(form) {
  const bar = form.querySelector(".progress");
  const fill = bar.querySelector(".progress-bar");
  const status = form.querySelector(".export-status");
  const buttons = form.querySelectorAll("button");
  const show = (percent, text) => {
    bar.classList.remove("d-none");
    bar.setAttribute("aria-valuenow", String(percent));
    fill.style.width = `${percent}%`;
    fill.textContent = `${percent}%`;
    status.textContent = text;
  };
  form.addEventListener("submit", async (event) => {
    const fmt = (event.submitter && event.submitter.dataset.fmt) || "xlsx";
    const jobUrl = form.dataset[`job${fmt === "csv" ? "Csv" : "Xlsx"}`];
    if (!jobUrl || !window.fetch) return;            // plain download
    event.preventDefault();
    buttons.forEach((b) => { b.disabled = true; });
    show(0, form.dataset.textRunning);
    const done = () => buttons.forEach((b) => { b.disabled = false; });
    try {
      const started = await fetch(jobUrl, { method: "POST", body: new FormData(form),
        headers: { "X-CSRFToken": form.dataset.csrf, Accept: "application/json" }, credentials: "same-origin" });
      if (!started.ok) throw new Error(String(started.status));
      const job = await started.json();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        const res = await fetch(job.status_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!res.ok) throw new Error(String(res.status));
        const state = await res.json();
        if (state.state === "failed") {
          show(0, form.dataset.textFailed + (state.error || ""));
          bar.classList.add("d-none");
          done();
          return;
        }
        const counted = state.total ? ` (${state.done}/${state.total})` : "";
        show(state.percent, form.dataset.textRunning + counted);
        if (state.state === "done") {
          show(100, form.dataset.textDone);
          window.location.assign(state.download_url);
          done();
          return;
        }
      }
    } catch (err) {
      done();
      bar.classList.add("d-none");
      status.textContent = "";
      // the job path failed: fall back to the direct download
      form.action = event.submitter ? event.submitter.formAction : form.action;
      HTMLFormElement.prototype.submit.call(form);
    }
  });
}

function init() {
  drawCharts();
  document.querySelectorAll("form[data-export]").forEach(exportForm);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
