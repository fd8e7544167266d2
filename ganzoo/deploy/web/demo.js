// ganzoo demo: zoo models in the browser with onnxruntime-web (WebAssembly, one thread).
// The numerical path mirrors ganzoo/deploy/runtime.py; window.ganzooRun is its explicit-input interface.
"use strict";

ort.env.wasm.wasmPaths = new URL("ort/", location.href).href; // the runtime files copied by `ganzoo demo`, never a CDN
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one thread works everywhere
const SESSION_OPTIONS = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
const GRID = 16; // samples per grid
const FRAMES = 8; // interpolation frames (a 2-D point model's path gets 4x as many)
const POINTS = 1000; // samples of a 2-D point model
const MAX_SIDE = 256; // uploads are shrunk to this many pixels on their long side
const models = {}; // name -> {entry, manifest, card, sessions, noiseConst}
const $ = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

// ------------------------------------------------------------------ seeded latents
// mulberry32 + Box-Muller; Python's twin is ganzoo.deploy.demo.page_latents (not numpy's PCG64).
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function pageLatents(n, dim, seed) {
  const next = mulberry32(seed);
  const z = new Float32Array(n * dim);
  for (let i = 0; i < z.length; i += 2) {
    const u1 = (next() + 0.5) / 2 ** 32;
    const u2 = (next() + 0.5) / 2 ** 32;
    const r = Math.sqrt(-2 * Math.log(u1));
    z[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < z.length) z[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return z;
}

// Spherical interpolation between two latents (ganzoo.latent.slerp); linear for W (ganzoo.latent.lerp).
function slerp(a, b, t) {
  const norm = (v) => Math.max(Math.hypot(...v), 1e-7);
  const na = norm(a), nb = norm(b);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] / na) * (b[i] / nb);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
  const s = Math.sin(omega);
  if (Math.abs(s) <= 1e-7) return lerp(a, b, t);
  return a.map((v, i) => (Math.sin((1 - t) * omega) * v + Math.sin(t * omega) * b[i]) / s);
}
const lerp = (a, b, t) => a.map((v, i) => v + t * (b[i] - v));

// ------------------------------------------------------------------ running graphs
let queue = Promise.resolve(); // one inference at a time: a wasm session is not re-entrant
function serial(task) {
  const result = queue.then(task);
  queue = result.catch(() => {});
  return result;
}

const floatTensor = (data, dims) => new ort.Tensor("float32", Float32Array.from(data), dims);
const flat = (values) => Float32Array.from(Array.isArray(values) ? values.flat(Infinity) : values);

async function runGraph(model, graph, feeds) {
  const output = model.manifest.graphs[graph].output.name;
  const result = await serial(() => model.sessions[graph].run(feeds));
  return { data: result[output].data, dims: result[output].dims.map(Number) };
}

// kind "latent": z [, label] -> images or points (OnnxGenerator.run)
function runLatent(model, z, n, labels) {
  const meta = model.manifest.model;
  const feeds = { z: floatTensor(z, [n, meta.latent_dim]) };
  if (meta.num_classes != null) feeds.label = new ort.Tensor("int32", Int32Array.from(labels), [n]);
  return runGraph(model, model.manifest.default_graph, feeds);
}

// kind "style": mapping(z, psi) -> w repeated for num_ws layers (OnnxStyleGenerator.mapping_ws)
async function mappingWs(model, z, n, psi) {
  const { latent_dim: dim, num_ws: numWs, w_dim: wDim } = model.manifest.model;
  const w = await runGraph(model, "mapping", { z: floatTensor(z, [n, dim]), truncation_psi: floatTensor([psi], []) });
  const ws = new Float32Array(n * numWs * wDim);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < numWs; k++) ws.set(w.data.subarray(i * wDim, (i + 1) * wDim), (i * numWs + k) * wDim);
  return ws;
}

// Style mixing: layers < cutoff from ws, the rest from ws2 (ganzoo.utils.sampling.mix_styles; default num_ws // 2).
function mixStyles(model, ws, ws2, n, cutoff) {
  const { num_ws: numWs, w_dim: wDim } = model.manifest.model;
  cutoff = cutoff ?? Math.floor(numWs / 2);
  if (!(cutoff >= 0 && cutoff <= numWs)) throw new Error(`mix cutoff must be in [0, ${numWs}], got ${cutoff}`);
  const mixed = Float32Array.from(ws);
  for (let i = 0; i < n; i++)
    mixed.set(ws2.subarray((i * numWs + cutoff) * wDim, (i + 1) * numWs * wDim), (i * numWs + cutoff) * wDim);
  return mixed;
}

// Noise maps by input name: "const" (the fixed maps of noise_mode="const", written by the builder),
// "none" (zeros) or explicit values {noise_0: [...], ...} for n samples.
function noiseFeeds(model, n, noise) {
  const feeds = {};
  for (const [name, shape] of Object.entries(model.manifest.model.noise_inputs)) {
    const size = shape[1] * shape[2];
    let data = new Float32Array(n * size);
    if (noise === "const") for (let i = 0; i < n; i++) data.set(model.noiseConst[name], i * size);
    else if (noise !== "none") data = flat(noise[name]);
    if (data.length !== n * size) throw new Error(`${name} needs ${n * size} values, got ${data.length}`);
    feeds[name] = floatTensor(data, [n, shape[1], shape[2], 1]);
  }
  return feeds;
}

function synthesis(model, ws, n, noise) {
  const { num_ws: numWs, w_dim: wDim } = model.manifest.model;
  return runGraph(model, "synthesis", { ws: floatTensor(ws, [n, numWs, wDim]), ...noiseFeeds(model, n, noise) });
}

// Images (kind image_to_image, super_resolution), as OnnxImageModel.translate / upscale without tiles:
// uint8 -> x / 127.5 - 1, channels matched, bottom/right sides padded to size_multiple, output cropped back.
function modelInput(image, channels) {
  const { width: w, height: h, channels: c } = image;
  const src = Uint8Array.from(Array.isArray(image.data) ? image.data.flat(Infinity) : image.data);
  if (src.length !== w * h * c) throw new Error(`image data must hold ${w}x${h}x${c} values, got ${src.length}`);
  const x = new Float32Array(w * h * channels);
  for (let p = 0; p < w * h; p++) {
    const v = [0, 1, 2].map((k) => Math.fround(Math.fround(src[p * c + Math.min(k, c - 1)] / 127.5) - 1));
    if (channels === 3) x.set(v, p * 3);
    else x[p] = c === 1 ? v[0] : 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]; // BT.601 luma (match_channels)
  }
  return { data: x, width: w, height: h, channels };
}

// numpy.pad's "reflect" (edge not repeated) when the pad is shorter than the side, else "symmetric" (run_padded).
function padIndex(i, size, reflect) {
  if (i < size) return i;
  if (reflect) return 2 * (size - 1) - i;
  const j = i % (2 * size);
  return j < size ? j : 2 * size - 1 - j;
}

async function runImage(model, graph, image) {
  const spec = model.manifest.graphs[graph];
  if (!spec) throw new Error(`${model.entry.name} has no graph ${graph}; choose from ${Object.keys(model.entry.graphs).join(", ")}`);
  const { size_multiple: m, scale } = model.manifest.model;
  const x = modelInput(image, spec.inputs[0].shape[3]);
  const { width: w, height: h, channels: c } = x;
  const H = Math.ceil(h / m) * m, W = Math.ceil(w / m) * m;
  const reflect = H - h < h && W - w < w;
  const padded = new Float32Array(H * W * c);
  for (let r = 0; r < H; r++)
    for (let q = 0; q < W; q++) {
      const from = (padIndex(r, h, reflect) * w + padIndex(q, w, reflect)) * c;
      padded.set(x.data.subarray(from, from + c), (r * W + q) * c);
    }
  const y = await runGraph(model, graph, { image: floatTensor(padded, [1, H, W, c]) });
  const [oh, ow, oc] = [h * scale, w * scale, y.dims[3]];
  const out = new Float32Array(oh * ow * oc);
  for (let r = 0; r < oh; r++) out.set(y.data.subarray(r * W * scale * oc, (r * W * scale + ow) * oc), r * ow * oc);
  return { data: out, dims: [1, oh, ow, oc], input: x };
}

// ------------------------------------------------------------------ the explicit-input interface
// await ganzooRun({model, z | seed + n, labels, truncation_psi, noise, mix: {z | seed, cutoff}, image, direction})
// -> {model, kind, shape, output (raw float32 values, row-major), z (the latents used, for generators)}
async function ganzooRun(request) {
  await window.ganzooReady;
  const model = models[request.model];
  if (!model) throw new Error(`unknown model ${request.model}; this page has ${Object.keys(models).join(", ")}`);
  const kind = model.entry.kind;
  const meta = model.manifest.model;
  let y, z;
  if (kind === "latent" || kind === "style") {
    z = request.z != null ? flat(request.z) : pageLatents(request.n ?? 1, meta.latent_dim, request.seed ?? 0);
    const n = z.length / meta.latent_dim;
    if (!Number.isInteger(n) || n < 1) throw new Error(`z must hold n x ${meta.latent_dim} values`);
    if (kind === "latent") {
      const labels = request.labels == null ? null : [].concat(request.labels);
      if ((meta.num_classes == null) !== (labels == null))
        throw new Error(meta.num_classes == null ? "this model takes no labels" : `labels in [0, ${meta.num_classes}) needed`);
      const all = labels && (labels.length === 1 ? Array(n).fill(labels[0]) : labels);
      if (all && (all.length !== n || !all.every((k) => Number.isInteger(k) && k >= 0 && k < meta.num_classes)))
        throw new Error(`labels must be an int or ${n} ints in [0, ${meta.num_classes})`); // check_labels
      y = await runLatent(model, z, n, all);
    } else {
      if (request.labels != null) throw new Error("a style-based generator takes no labels");
      const psi = request.truncation_psi ?? 1;
      let ws = await mappingWs(model, z, n, psi);
      if (request.mix) {
        const z2 = request.mix.z != null ? flat(request.mix.z) : pageLatents(n, meta.latent_dim, request.mix.seed ?? 1);
        ws = mixStyles(model, ws, await mappingWs(model, z2, n, psi), n, request.mix.cutoff);
      }
      y = await synthesis(model, ws, n, request.noise ?? "const");
    }
  } else {
    y = await runImage(model, request.direction ?? model.manifest.default_graph, request.image);
  }
  return { model: request.model, kind, shape: y.dims, output: Array.from(y.data), z: z && Array.from(z) };
}
window.ganzooRun = ganzooRun;

// ------------------------------------------------------------------ drawing
// uint8 = clip(round_half_even((x + 1) * 127.5), 0, 255), as ganzoo.utils.images.to_uint8
function toUint8(x) {
  const v = (x + 1) * 127.5, f = Math.floor(v), d = v - f;
  return Math.min(255, Math.max(0, d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f));
}

// Float images (n, h, w, c) in [-1, 1] as one grid with 2-pixel white gaps (image_grid), shown `zoom` times larger.
function drawGrid(canvas, data, n, h, w, c, columns, zoom) {
  const pad = n > 1 ? 2 : 0, rows = Math.ceil(n / columns);
  canvas.width = columns * (w + pad) + pad;
  canvas.height = rows * (h + pad) + pad;
  canvas.style.width = `${canvas.width * zoom}px`;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  img.data.fill(255);
  for (let k = 0; k < n; k++) {
    const top = pad + Math.floor(k / columns) * (h + pad), left = pad + (k % columns) * (w + pad);
    for (let p = 0; p < h * w; p++) {
      const at = ((top + Math.floor(p / w)) * canvas.width + left + (p % w)) * 4;
      for (let ch = 0; ch < 3; ch++) img.data[at + ch] = toUint8(data[(k * h * w + p) * c + Math.min(ch, c - 1)]);
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawPoints(canvas, points, path) {
  const ctx = canvas.getContext("2d");
  const span = Math.max(...points.map(Math.abs), 1e-6) * 1.1;
  const at = (x, y) => [((x / span + 1) * canvas.width) / 2, ((1 - y / span) * canvas.height) / 2];
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#ddd";
  ctx.strokeRect(canvas.width / 2, 0, 0, canvas.height);
  ctx.strokeRect(0, canvas.height / 2, canvas.width, 0);
  ctx.fillStyle = "rgba(40, 80, 200, 0.45)";
  for (let i = 0; i < points.length; i += 2) ctx.fillRect(...at(points[i], points[i + 1]), 2, 2);
  ctx.strokeStyle = "#c33";
  ctx.beginPath();
  for (let i = 0; i < path.length; i += 2) ctx.lineTo(...at(path[i], path[i + 1]));
  ctx.stroke();
}

const figure = (caption, canvas) => $("figure", {}, canvas, $("figcaption", { textContent: caption }));
const zoomFor = (h) => Math.max(1, Math.floor(96 / h));

// ------------------------------------------------------------------ one view per kind
function latentView(model, body) {
  const meta = model.manifest.model;
  const points = meta.image_shape.length === 1;
  const [h, w, c] = meta.image_shape;
  const seed = $("input", { type: "number", value: 0, min: 0 });
  const again = $("button", { textContent: "New samples" });
  const label = $("select", {}, $("option", { value: "all", textContent: "every class (a column each)" }));
  for (let k = 0; k < (meta.num_classes ?? 0); k++) label.append($("option", { value: k, textContent: `class ${k}` }));
  const grid = $("canvas", points ? { width: 320, height: 320 } : {}), strip = $("canvas");
  const controls = $("div", { className: "controls" }, "Seed ", seed, again);
  if (meta.num_classes != null) controls.append("Class ", label);
  body.append(controls);
  body.append(points ? figure(`${POINTS} samples; red: a latent interpolation`, grid) : $("div", { className: "row" },
    figure("samples", grid), figure("interpolation between two latents (slerp)", strip)));

  async function render() {
    const s = Number(seed.value) >>> 0, C = meta.num_classes;
    const n = points ? POINTS : C != null ? 2 * C : GRID;
    const labels = C == null ? null : Array.from({ length: n }, (_, i) => (label.value === "all" ? i % C : Number(label.value)));
    const z = pageLatents(n, meta.latent_dim, s);
    const ends = pageLatents(2, meta.latent_dim, s + 1);
    const a = ends.subarray(0, meta.latent_dim), b = ends.subarray(meta.latent_dim);
    const frames = points ? 4 * FRAMES : FRAMES;
    const path = Float32Array.from(Array.from({ length: frames }, (_, i) => slerp(a, b, i / (frames - 1))).flatMap((v) => [...v]));
    const pathLabels = labels && Array(frames).fill(label.value === "all" ? 0 : Number(label.value));
    const y = await runLatent(model, z, n, labels);
    const walk = await runLatent(model, path, frames, pathLabels);
    if (points) return drawPoints(grid, Array.from(y.data), Array.from(walk.data));
    drawGrid(grid, y.data, n, h, w, c, C ?? 8, zoomFor(h) / 2);
    drawGrid(strip, walk.data, FRAMES, h, w, c, FRAMES, zoomFor(h) / 2);
  }
  again.onclick = () => { seed.value = Number(seed.value) + 1; return render(); };
  seed.onchange = label.onchange = render;
  return render();
}

function styleView(model, body) {
  const meta = model.manifest.model;
  const [h, w, c] = meta.image_shape;
  const seed = $("input", { type: "number", value: 0, min: 0 });
  const again = $("button", { textContent: "New samples" });
  const psi = $("input", { type: "range", min: 0, max: 1, step: 0.05, value: 0.7 });
  const psiText = $("span");
  const seedA = $("input", { type: "number", value: 1, min: 0 }), seedB = $("input", { type: "number", value: 2, min: 0 });
  const cutoff = $("input", { type: "range", min: 0, max: meta.num_ws, step: 1, value: Math.floor(meta.num_ws / 2) });
  const grid = $("canvas"), strip = $("canvas"), mixing = $("canvas");
  body.append(
    $("div", { className: "controls" }, "Seed ", seed, again, "Truncation ψ ", psi, psiText),
    $("div", { className: "row" }, figure("samples", grid), figure("interpolation in W (lerp)", strip)),
    $("div", { className: "controls" }, "Style mixing: coarse styles of seed ", seedA, " fine styles of seed ", seedB,
      " layers from B start at ", cutoff),
    figure("A, B, and A's coarse styles with B's fine ones", mixing),
  );

  async function render() {
    const s = Number(seed.value) >>> 0, t = Number(psi.value), dim = meta.latent_dim, wd = meta.w_dim * meta.num_ws;
    psiText.textContent = t.toFixed(2);
    const y = await synthesis(model, await mappingWs(model, pageLatents(GRID, dim, s), GRID, t), GRID, "const");
    drawGrid(grid, y.data, GRID, h, w, c, 8, zoomFor(h) / 2);
    const ends = await mappingWs(model, pageLatents(2, dim, s + 1), 2, t);
    const path = new Float32Array(FRAMES * wd);
    for (let i = 0; i < FRAMES; i++) path.set(lerp(ends.subarray(0, wd), ends.subarray(wd), i / (FRAMES - 1)), i * wd);
    drawGrid(strip, (await synthesis(model, path, FRAMES, "const")).data, FRAMES, h, w, c, FRAMES, zoomFor(h) / 2);
    const wa = await mappingWs(model, pageLatents(1, dim, Number(seedA.value) >>> 0), 1, t);
    const wb = await mappingWs(model, pageLatents(1, dim, Number(seedB.value) >>> 0), 1, t);
    const three = Float32Array.from([...wa, ...wb, ...mixStyles(model, wa, wb, 1, Number(cutoff.value))]);
    drawGrid(mixing, (await synthesis(model, three, 3, "const")).data, 3, h, w, c, 3, zoomFor(h));
  }
  again.onclick = () => { seed.value = Number(seed.value) + 1; return render(); };
  seed.onchange = psi.oninput = seedA.onchange = seedB.onchange = cutoff.oninput = render;
  return render();
}

// Pixels of an <img> or an uploaded file, shrunk to MAX_SIDE on the long side: {width, height, channels: 4, data}.
async function pixels(source) {
  const bitmap = await createImageBitmap(source);
  const k = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = $("canvas", { width: Math.round(bitmap.width * k), height: Math.round(bitmap.height * k) });
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  return { width: canvas.width, height: canvas.height, channels: 4, data };
}

function imageView(model, body, examples) {
  const scale = model.manifest.model.scale;
  const example = $("select", {}, ...examples.map((path) => $("option", { value: path, textContent: path.split("/").pop() })));
  const upload = $("input", { type: "file", accept: "image/*" });
  const direction = $("select", {}, ...Object.keys(model.entry.graphs).map((g) => $("option", { value: g, textContent: g })));
  const input = $("canvas"), output = $("canvas");
  const download = $("a", { textContent: "Download the result (PNG)", download: `${model.entry.name}.png`, href: "#" });
  let current = null;
  const controls = $("div", { className: "controls" }, "Example ", example, " or your image ", upload);
  if (direction.options.length > 1) controls.append(" Direction ", direction);
  body.append(controls, $("div", { className: "row" }, figure("input, as the model sees it", input),
    figure(scale > 1 ? `output (x${scale})` : "output", output)), download);

  async function render() {
    const y = await runImage(model, direction.value, current);
    const { width: w, height: h, channels: c } = y.input;
    const zoom = Math.max(1, Math.floor(192 / (h * scale)));
    drawGrid(input, y.input.data, 1, h, w, c, 1, zoom * scale);
    drawGrid(output, y.data, 1, y.dims[1], y.dims[2], y.dims[3], 1, zoom);
    download.href = output.toDataURL("image/png");
  }
  async function loadExample() {
    const response = await fetch(example.value);
    current = await pixels(await response.blob());
    return render();
  }
  example.onchange = loadExample;
  direction.onchange = render;
  upload.onchange = async () => { current = await pixels(upload.files[0]); return render(); };
  return loadExample();
}

// ------------------------------------------------------------------ model cards
function cardView(model) {
  const { card, manifest, entry } = model;
  const rows = Object.entries(card.headline).map(([k, v]) =>
    $("tr", {}, $("td", { textContent: k }), $("td", { textContent: typeof v === "number" ? +v.toPrecision(3) : v })));
  const parity = Math.max(...Object.entries(manifest.verification?.max_abs_diff ?? {})
    .filter(([k]) => k.startsWith("onnx")).map(([, v]) => v));
  const aside = $("aside", { className: "card" },
    $("p", { textContent: card.description ?? "" }),
    $("p", {}, $("strong", { textContent: "For: " }), card.intended_use),
    $("p", { className: "limits" }, $("strong", { textContent: "Not for / limitations: " }), card.limitations),
    $("table", {}, ...rows),
    $("details", {}, $("summary", { textContent: "how these numbers were measured" }),
      $("p", { textContent: card.metrics?.protocol ?? "see the model card" })),
    $("p", { textContent: `Data: ${card.data?.spec ?? card.data?.dataset ?? "?"}. License: ${card.license}.` }),
    $("p", { textContent: `${card.parameters?.toLocaleString() ?? "?"} generator parameters; ` +
      `${(entry.bytes / 1e6).toFixed(2)} MB of ONNX; ONNX vs Keras max |diff| ${parity.toExponential(1)}.` }));
  return aside;
}

// ------------------------------------------------------------------ start-up
const getJSON = async (url) => {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
};

async function loadModel(entry, examples) {
  const body = $("div");
  const status = $("p", { textContent: "loading…" });
  document.getElementById("models").append($("section", { className: "model", id: entry.name },
    $("div", {}, $("h2", {}, entry.name, $("span", { className: "kind", textContent: entry.kind })), status, body),
    $("div", { id: `${entry.name}-card` })));
  document.getElementById("toc").append($("a", { href: `#${entry.name}`, textContent: entry.name }));
  try {
    const started = performance.now();
    const model = { entry, sessions: {} };
    model.manifest = await getJSON(`${entry.path}manifest.json`);
    model.card = await getJSON(`${entry.path}card.json`);
    if (entry.kind === "style") model.noiseConst = await getJSON(`${entry.path}noise_const.json`);
    for (const [graph, file] of Object.entries(entry.graphs))
      model.sessions[graph] = await ort.InferenceSession.create(`${entry.path}${file}`, SESSION_OPTIONS);
    models[entry.name] = model;
    document.getElementById(`${entry.name}-card`).append(cardView(model));
    const view = { latent: latentView, style: styleView }[entry.kind] ?? imageView;
    await view(model, body, examples);
    status.textContent = `ready in ${Math.round(performance.now() - started)} ms`;
    return "ok";
  } catch (error) {
    status.className = "error";
    status.textContent = `could not run this model: ${error.message ?? error}`;
    console.error(`${entry.name}:`, error);
    return String(error.message ?? error);
  }
}

// Resolves to {model name: "ok" or its error} once every model is loaded and drawn.
window.ganzooReady = (async () => {
  const status = document.getElementById("status");
  const index = await getJSON("models.json");
  const results = {};
  for (const entry of index.models) results[entry.name] = await loadModel(entry, index.examples);
  const failed = Object.values(results).filter((r) => r !== "ok").length;
  status.textContent = `${index.models.length - failed} of ${index.models.length} models running with ` +
    `onnxruntime-web ${index.onnxruntime_web}; page weight ${(index.weight.total_bytes / 1e6).toFixed(1)} MB.`;
  return results;
})();

// ?run=<JSON request>: the same interface from a URL; the result is shown in the footer and kept in window.ganzooResult.
const query = new URLSearchParams(location.search).get("run");
if (query) {
  const shown = document.getElementById("run-result");
  window.ganzooResult = ganzooRun(JSON.parse(query)).then(
    (result) => { shown.textContent = JSON.stringify(result); return result; },
    (error) => { shown.textContent = `error: ${error.message}`; console.error(error); throw error; },
  );
}
