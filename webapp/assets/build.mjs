// Bundles the front-end packages into webapp/static/dist with esbuild.
import { build } from "esbuild";

const common = { bundle: true, minify: true, sourcemap: false, logLevel: "warning", outdir: "webapp/static/dist" };
const assets = { ".woff": "file", ".woff2": "file", ".svg": "file", ".eot": "file", ".ttf": "file" };
await build({ ...common, entryPoints: { app: "webapp/assets/app.js", viewer: "webapp/assets/viewer.js" }, format: "iife" });
await build({ ...common, entryPoints: { app: "webapp/assets/app.css", viewer: "webapp/assets/viewer.css" }, loader: assets });
