// Bundles the front-end packages into webapp/static/dist with esbuild.
import { build } from "esbuild";

const common = { bundle: true, minify: true, sourcemap: false, logLevel: "warning", outdir: "webapp/static/dist" };
await build({ ...common, entryPoints: { app: "webapp/assets/app.js" }, format: "iife" });
await build({ ...common, entryPoints: { app: "webapp/assets/app.css" }, loader: { ".woff": "file", ".woff2": "file", ".svg": "file" } });
