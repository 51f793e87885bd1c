// The web page's behaviour: send one image to POST /gradcam and show the warnings, the verdict, the differential
// and the explanation map beside the original.
// Plain browser JavaScript, no build step and no third-party code.
"use strict";

const READY_POLL_MS = 3000;

const $ = (id) => document.getElementById(id);

const ui = {
  form: $("analyse-form"),
  file: $("file-input"),
  url: $("url-input"),
  apiKey: $("api-key-input"),
  submit: $("submit-button"),
  progress: $("progress"),
  status: $("service-status"),
  error: $("error"),
  errorTitle: $("error-title"),
  errorDetail: $("error-detail"),
  errorMeta: $("error-meta"),
  result: $("result"),
  label: $("result-label"),
  probability: $("result-probability"),
  threshold: $("result-threshold"),
  highSensitivity: $("result-high-sensitivity"),
  bar: $("probability-bar"),
  original: $("original-image"),
  overlayBase: $("overlay-base"),
  heatmap: $("heatmap-image"),
  heatmapSize: $("heatmap-size"),
  warnings: $("warnings"),
  warningList: $("warning-list"),
  differentialRows: $("differential-rows"),
  explanationMessage: $("explanation-message"),
  explanationTarget: $("explanation-target"),
  images: $("images"),
  showOverlay: $("show-overlay"),
  showOriginal: $("show-original"),
  opacity: $("opacity-slider"),
  disclaimer: $("result-disclaimer"),
  meta: $("result-meta"),
  modelInfo: $("model-info"),
};

let originalObjectUrl = null;

// ---- talking to the service ----

function authHeaders() {
  const key = ui.apiKey.value.trim();
  return key ? { "X-API-Key": key } : {};
}

// A failed request as something to show: the problem+json title and detail when the service sent one.
class ProblemError extends Error {
  constructor(title, detail, status, requestId) {
    super(detail || title);
    this.title = title;
    this.detail = detail;
    this.status = status;
    this.requestId = requestId;
  }
}

async function problemFrom(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // not JSON (a proxy's HTML error page, say): fall back to the status line
  }
  const title = (problem && problem.title) || `HTTP ${response.status} ${response.statusText}`.trim();
  const detail = problem && typeof problem.detail === "string" ? problem.detail : "";
  const requestId = (problem && problem.request_id) || response.headers.get("X-Request-ID");
  return new ProblemError(title, detail, response.status, requestId);
}

async function requestJson(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch {
    throw new ProblemError("The service could not be reached", "Check that it is running and try again.");
  }
  if (!response.ok) {
    throw await problemFrom(response);
  }
  return response.json();
}

function analyse(imageFile, imageUrl) {
  const form = new FormData();
  if (imageFile) {
    form.append("file", imageFile, imageFile.name);
  } else {
    form.append("url", imageUrl);
  }
  return requestJson("/gradcam", { method: "POST", body: form });
}

// ---- showing things ----

// Below 0.1 % the rounded figure would read "0.0 %", which claims more certainty than the model has.
const percent = (value) => (value < 0.001 ? "< 0.1 %" : `${(value * 100).toFixed(1)} %`);
const decimal = (value) => value.toFixed(3);

function showError(error) {
  ui.result.hidden = true;
  ui.errorTitle.textContent = error.title || "Something went wrong";
  ui.errorDetail.textContent = error.detail || error.message || "";
  const meta = [];
  if (error.status) meta.push(`HTTP ${error.status}`);
  if (error.requestId) meta.push(`request id ${error.requestId}`);
  ui.errorMeta.textContent = meta.join(" · ");
  ui.error.hidden = false;
  ui.error.focus();
}

function showResult(data, originalSource) {
  ui.error.hidden = true;
  ui.label.textContent = data.label;
  ui.label.dataset.label = data.label;
  ui.probability.textContent = `${percent(data.probability)} (${decimal(data.probability)})`;
  ui.threshold.textContent = `${decimal(data.threshold)} (${data.threshold_source})`;
  const high = data.high_sensitivity;
  ui.highSensitivity.textContent = high ? `${decimal(high.threshold)} → ${high.label}` : "not provided by this model";
  ui.bar.style.setProperty("--probability", String(data.probability));
  ui.bar.style.setProperty("--threshold", String(data.threshold));

  showWarnings(data.warnings || []);
  showDifferential(data.differential || []);
  showExplanation(data, originalSource);

  ui.disclaimer.textContent = data.disclaimer;
  const model = data.model || {};
  const total = data.timing && data.timing.total_ms;
  ui.meta.textContent = [
    `model ${model.id} ${model.version} (${model.backbone}, ${model.engine})`,
    total === undefined ? null : `${Math.round(total)} ms`,
    `request id ${data.request_id}`,
  ].filter(Boolean).join(" · ");
  ui.result.hidden = false;
  ui.result.focus();
}

function showWarnings(warnings) {
  ui.warningList.replaceChildren(...warnings.map((warning) => {
    const item = document.createElement("li");
    item.dataset.code = warning.code;
    item.textContent = `${warning.code.replaceAll("_", " ")}: ${warning.detail}`;
    return item;
  }));
  ui.warnings.hidden = warnings.length === 0;
}

function showDifferential(differential) {
  const cancerous = new Set(["mel", "bcc", "akiec"]);
  ui.differentialRows.replaceChildren(...differential.map((diagnosis) => {
    const row = document.createElement("tr");
    row.dataset.code = diagnosis.code;
    row.dataset.cancerous = String(cancerous.has(diagnosis.code));
    const name = document.createElement("td");
    name.textContent = `${diagnosis.name} (${diagnosis.code})`;
    const probability = document.createElement("td");
    probability.className = "probability";
    probability.textContent = percent(diagnosis.probability);
    const barCell = document.createElement("td");
    barCell.className = "bar-cell";
    const bar = document.createElement("div");
    bar.className = "mini-bar";
    bar.style.width = `${(diagnosis.probability * 100).toFixed(1)}%`;
    barCell.append(bar);
    row.append(name, probability, barCell);
    return row;
  }));
}

function showExplanation(data, originalSource) {
  const explanation = data.explanation || {};
  ui.explanationTarget.textContent = explanation.target || "";
  ui.explanationMessage.textContent = explanation.message || "";
  ui.explanationMessage.dataset.empty = String(Boolean(explanation.empty));
  const overlay = `data:${data.heatmap_media_type};base64,${data.heatmap_base64}`;
  ui.heatmap.src = overlay;
  // Under the overlay: the photo itself when the browser can show it, else the overlay (opacity then does nothing).
  ui.overlayBase.src = originalSource || overlay;
  ui.heatmapSize.textContent = `${data.heatmap_width} × ${data.heatmap_height}`;
  ui.original.hidden = !originalSource;
  if (originalSource) ui.original.src = originalSource;
}

function setView(view) {
  ui.images.dataset.view = view;
  ui.showOverlay.setAttribute("aria-pressed", String(view === "overlay"));
  ui.showOriginal.setAttribute("aria-pressed", String(view === "original"));
}

function setBusy(busy) {
  ui.submit.disabled = busy;
  ui.progress.hidden = !busy;
  ui.form.setAttribute("aria-busy", String(busy));
}

function originalFor(imageFile, imageUrl) {
  if (originalObjectUrl) URL.revokeObjectURL(originalObjectUrl);
  originalObjectUrl = imageFile ? URL.createObjectURL(imageFile) : null;
  return originalObjectUrl || imageUrl;
}

// ---- the form ----

async function onSubmit(event) {
  event.preventDefault();
  const imageFile = ui.file.files[0] || null;
  const imageUrl = ui.url.value.trim();
  if (!imageFile && !imageUrl) {
    showError(new ProblemError("No image given", "Choose a file to upload or paste an image URL."));
    return;
  }
  if (imageFile && imageUrl) {
    showError(new ProblemError("Two images given", "Send either a file or a URL, not both: clear one of them."));
    return;
  }
  setBusy(true);
  try {
    const data = await analyse(imageFile, imageUrl);
    showResult(data, originalFor(imageFile, imageUrl));
  } catch (error) {
    showError(error);
  } finally {
    setBusy(false);
  }
}

function useDroppedFile(event) {
  event.preventDefault();
  ui.form.classList.remove("dragging");
  const files = event.dataTransfer && event.dataTransfer.files;
  if (files && files.length) {
    ui.file.files = files;
    ui.url.value = "";
  }
}

function wireForm() {
  ui.form.addEventListener("submit", onSubmit);
  ui.form.addEventListener("reset", () => {
    ui.result.hidden = true;
    ui.error.hidden = true;
  });
  // One image at a time: choosing one kind of input clears the other.
  ui.file.addEventListener("change", () => { if (ui.file.files.length) ui.url.value = ""; });
  ui.url.addEventListener("input", () => { if (ui.url.value) ui.file.value = ""; });
  ui.form.addEventListener("dragover", (event) => { event.preventDefault(); ui.form.classList.add("dragging"); });
  ui.form.addEventListener("dragleave", () => ui.form.classList.remove("dragging"));
  ui.form.addEventListener("drop", useDroppedFile);
  ui.original.addEventListener("error", () => { ui.original.hidden = true; });
  ui.overlayBase.addEventListener("error", () => { ui.overlayBase.src = ui.heatmap.src; });
  ui.showOverlay.addEventListener("click", () => setView("overlay"));
  ui.showOriginal.addEventListener("click", () => setView("original"));
  ui.opacity.addEventListener("input", () => {
    ui.images.style.setProperty("--overlay-opacity", String(Number(ui.opacity.value) / 100));
  });
}

// ---- service readiness and model card ----

async function describeModel() {
  try {
    const model = await requestJson("/v1/model");
    ui.modelInfo.textContent = `Model: ${model.id} ${model.version} · ${model.backbone} · ${model.engine} · `
      + `input ${model.input.image_size} px · ${model.licence}`;
  } catch {
    ui.modelInfo.textContent = "Model: details unavailable (an API key may be required).";
  }
}

async function watchReadiness() {
  try {
    const ready = await requestJson("/readyz");
    ui.status.textContent = `Ready: model ${ready.model_version} on ${ready.engine}.`;
    ui.status.dataset.state = "ready";
    describeModel();
  } catch (error) {
    ui.status.textContent = `Not ready yet: ${error.detail || error.title}. Checking again…`;
    ui.status.dataset.state = "waiting";
    setTimeout(watchReadiness, READY_POLL_MS);
  }
}

wireForm();
watchReadiness();
