// The pydarknet serve page: send an image to POST /detect, draw the boxes the way
// Darknet's predictions.jpg does (pydarknet/draw.py), list the detections in a table.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { blob: null, classes: 80, seq: 0, stream: null,
  key: sessionStorage.getItem("pydarknet-key") || "" };

// src/image.c get_color() and pydarknet.draw.class_color(), as a CSS colour.
const COLORS = [[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0]];
function getColor(c, x, max) {
  let ratio = (x / max) * 5;
  const i = Math.floor(ratio), j = Math.ceil(ratio);
  ratio -= i;
  return (1 - ratio) * COLORS[i][c] + ratio * COLORS[j][c];
}
function classColor(classId, classes) {
  const n = Math.max(classes, 1), offset = (classId * 123457) % n;
  const [r, g, b] = [2, 1, 0].map((c) => Math.trunc(getColor(c, offset, n) * 255));
  return `rgb(${r}, ${g}, ${b})`;
}

function headers(extra) {
  const h = Object.assign({}, extra);
  if (state.key) h["X-API-Key"] = state.key;
  return h;
}

function setStatus(text, kind) {
  const s = $("status");
  s.textContent = text;
  s.className = kind === "error" ? "error" : "";
  s.dataset.state = kind || "idle";
}

async function loadModel() {
  try {
    const r = await fetch("/models", { headers: headers() });
    if (r.status === 401) return askKey();
    if (!r.ok) { setTimeout(loadModel, 1000); return; }  // still loading
    const m = (await r.json()).models[0];
    state.classes = m.classes;
    $("model").textContent = `${m.name}: ${m.classes} classes, input ` +
      `${m.input.width}×${m.input.height}, batches of up to ${m.max_batch}`;
  } catch (e) {
    $("model").textContent = `cannot reach the service (${e})`;
  }
}

function askKey() {
  $("key-box").hidden = false;
  setStatus("This service needs an API key: enter it above.", "error");
}

async function detect() {
  if (!state.blob) return;
  const seq = ++state.seq;
  const thresh = $("thresh").value;
  setStatus("detecting…", "busy");
  const started = performance.now();
  let r, body;
  try {
    r = await fetch(`/detect?thresh=${encodeURIComponent(thresh)}`, {
      method: "POST", body: state.blob,
      headers: headers({ "Content-Type": state.blob.type || "application/octet-stream" }),
    });
    body = await r.json();
  } catch (e) {
    if (seq === state.seq) setStatus(`request failed: ${e}`, "error");
    return;
  }
  if (seq !== state.seq) return;  // a newer request (slider moved) supersedes this one
  if (r.status === 401) return askKey();
  if (!r.ok) return setStatus(`${r.status}: ${body.detail}`, "error");
  await render(body);
  const ms = Math.round(performance.now() - started);
  const n = body.detections.length;
  setStatus(`${n} detection${n === 1 ? "" : "s"} at threshold ${Number(thresh).toFixed(2)} ` +
    `(${body.width}×${body.height}, ${ms} ms)`, "done");
  $("status").dataset.count = String(n);
}

function loadBitmap(blob) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(img.src); resolve(img); };
    img.onerror = () => reject(new Error("the browser cannot show this image"));
    img.src = URL.createObjectURL(blob);
  });
}

// Detections sharing a box are drawn once with all their names, like Darknet.
function groupByBox(dets) {
  const groups = new Map();
  for (const d of dets) {
    const k = [d.box.x, d.box.y, d.box.w, d.box.h].join(",");
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(d);
  }
  return [...groups.values()].map((g) => g.sort((a, b) => a.class_id - b.class_id));
}

async function render(result) {
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  try {
    const img = await loadBitmap(state.blob);
    canvas.width = result.width; canvas.height = result.height;
    ctx.drawImage(img, 0, 0, result.width, result.height);
  } catch (e) {  // not displayable here (e.g. TIFF): boxes on gray
    canvas.width = result.width; canvas.height = result.height;
    ctx.fillStyle = "#808080"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  canvas.hidden = false; $("hint").hidden = true;
  const h = canvas.height, w = canvas.width;
  const width = Math.max(Math.trunc(h * 0.006), 1);
  const font = Math.max(Math.round(h * 0.03), 11);
  ctx.font = `${font}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (const group of groupByBox(result.detections)) {
    const b = group[0].box, color = classColor(group[0].class_id, state.classes);
    const left = Math.max(Math.trunc(b.x - b.w / 2), 0), top = Math.max(Math.trunc(b.y - b.h / 2), 0);
    const right = Math.min(Math.trunc(b.x + b.w / 2), w - 1);
    const bot = Math.min(Math.trunc(b.y + b.h / 2), h - 1);
    ctx.strokeStyle = color; ctx.lineWidth = width;
    ctx.strokeRect(left + width / 2, top + width / 2, right - left - width + 1, bot - top - width + 1);
    const label = group.map((d) => `${d.label} ${Math.round(d.confidence * 100)}%`).join(", ");
    const tw = ctx.measureText(label).width + 8, th = font + 6;
    let y0 = top + width - th;
    if (y0 < 0) y0 = top + width;
    ctx.fillStyle = color; ctx.fillRect(left, y0, tw, th);
    ctx.fillStyle = "#000"; ctx.fillText(label, left + 4, y0 + 3);
  }
  fillTable(result.detections);
}

function fillTable(dets) {
  const body = $("detections").tBodies[0];
  body.replaceChildren();
  dets.forEach((d, i) => {
    const tr = document.createElement("tr");
    Object.assign(tr.dataset, { label: d.label, classId: d.class_id, confidence: d.confidence,
      x: d.box.x, y: d.box.y, w: d.box.w, h: d.box.h });
    const cells = [i + 1, d.label, d.class_id, `${(d.confidence * 100).toFixed(1)}%`,
      d.box.x.toFixed(1), d.box.y.toFixed(1), d.box.w.toFixed(1), d.box.h.toFixed(1)];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = String(c);
      tr.appendChild(td);
    }
    const sw = document.createElement("span");
    sw.className = "swatch"; sw.style.background = classColor(d.class_id, state.classes);
    tr.children[1].prepend(sw);
    body.appendChild(tr);
  });
}

function useBlob(blob) {
  if (!blob) return;
  state.blob = blob;
  detect();
}

function setupInputs() {
  $("file").addEventListener("change", (e) => useBlob(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    useBlob(e.dataTransfer.files[0]);
  });
  let timer = null;
  $("thresh").addEventListener("input", (e) => {
    $("thresh-value").textContent = Number(e.target.value).toFixed(2);
    clearTimeout(timer);
    timer = setTimeout(detect, 150);
  });
  $("key").addEventListener("change", (e) => {
    state.key = e.target.value;
    sessionStorage.setItem("pydarknet-key", state.key);
    loadModel(); detect();
  });
  setupCamera();
}

function setupCamera() {
  const cam = $("camera"), cap = $("capture"), video = $("video");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cam.disabled = true;
    cam.title = "this browser allows the camera only on https:// or localhost pages";
    return;
  }
  cam.addEventListener("click", async () => {
    if (state.stream) {  // second click: camera off
      state.stream.getTracks().forEach((t) => t.stop());
      state.stream = null; video.hidden = true; cap.hidden = true; cam.textContent = "Camera";
      return;
    }
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ video: true });
    } catch (e) {
      return setStatus(`no camera: ${e.message || e}`, "error");
    }
    video.srcObject = state.stream; video.hidden = false; cap.hidden = false;
    cam.textContent = "Camera off";
  });
  cap.addEventListener("click", () => {
    const c = document.createElement("canvas");
    c.width = video.videoWidth; c.height = video.videoHeight;
    c.getContext("2d").drawImage(video, 0, 0);
    c.toBlob(useBlob, "image/jpeg", 0.92);
  });
}

setupInputs();
loadModel();
