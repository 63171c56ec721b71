// Bundles the front-end packages into webapp/static/dist with esbuild.
import { build } from "esbuild";

const common = { bundle: true, minify: true, sourcemap: false, logLevel: "warning", outdir: "webapp/static/dist" };
const assets = { ".woff": "file", ".woff2": "file", ".svg": "file", ".eot": "file", ".ttf": "file" };
await build({ ...common, entryPoints: { app: "webapp/assets/app.js", viewer: "webapp/assets/viewer.js" }, format: "iife" });
// policy staff and administrators: modeler (+ properties panel), decision tables, instance/overview diagrams
await build({ ...common, entryPoints: { modeler: "webapp/assets/modeler.js", dmn: "webapp/assets/dmn.js",
                                        admin: "webapp/assets/admin.js" }, format: "iife", loader: { ".json": "json" } });
await build({ ...common, entryPoints: { modeler: "webapp/assets/modeler.css", dmn: "webapp/assets/dmn.css",
                                        admin: "webapp/assets/admin.css" }, loader: assets });
await build({ ...common, entryPoints: { app: "webapp/assets/app.css", viewer: "webapp/assets/viewer.css" }, loader: assets });
// report pages: ECharts charts (tree-shaken echarts/core) and export progress
await build({ ...common, entryPoints: { charts: "webapp/assets/charts.js" }, format: "iife" });
