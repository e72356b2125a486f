// The inspector: reads the control API every second; every action goes through it too.
"use strict";

const state = { namespace: "default", selected: null, busy: false, drawn: {} };
const $ = (id) => document.getElementById(id);

// Redraw a part only when what it shows changed: rows under the pointer stay put.
function changed(part, ...data) {
  const key = JSON.stringify(data);
  if (state.drawn[part] === key) return false;
  state.drawn[part] = key;
  return true;
}

// With `serve --control-token T`, open /__mock/ui#token=T (a fragment never leaves the browser).
const controlToken = new URLSearchParams(window.location.hash.slice(1)).get("token");

async function control(method, path, body) {
  const options = { method, headers: { "X-Mock-Session": state.namespace } };
  if (controlToken) options.headers["X-Mock-Token"] = controlToken;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function iso(epoch) {
  return new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
}

async function refreshNamespaces() {
  const { namespaces } = await control("GET", "/__mock/namespaces");
  const select = $("namespace");
  if ([...select.options].map((o) => o.value).join() === namespaces.join()) return;
  select.replaceChildren(...namespaces.map((name) => new Option(name, name)));
  select.value = state.namespace;
}

async function refreshClock() {
  const clock = await control("GET", "/__mock/clock");
  $("clock-mode").textContent = clock.mode;
  $("clock-speed").textContent = clock.speed;
  $("clock-now").textContent = clock.now;
}

function drawTimeline(job) {
  const svg = $("timeline");
  const rowHeight = 18;
  const ends = job.tasks.map((t) => t.end ?? job.at);
  const first = job.created_at;
  const last = Math.max(job.at, ...ends) || first + 1;
  const scale = (t) => 170 + ((t - first) / Math.max(last - first, 1)) * 570;
  svg.setAttribute("height", rowHeight * job.tasks.length + 10);
  const parts = [];
  job.tasks.forEach((task, index) => {
    const y = index * rowHeight + 4;
    const label = task.depends_on.length ? `${task.name} (after ${task.depends_on.join(", ")})` : task.name;
    parts.push(`<text x="0" y="${y + 11}">${escapeHtml(label)}</text>`);
    if (task.start !== null) {
      const x = scale(task.start);
      const width = Math.max(scale(Math.min(task.end ?? job.at, Math.max(job.at, task.start))) - x, 2);
      parts.push(
        `<rect class="${task.status}" data-task="${escapeHtml(task.name)}" x="${x}" y="${y}" width="${width}" height="${rowHeight - 5}">` +
          `<title>${escapeHtml(task.name)}: ${task.status} ${task.progress}%</title></rect>`,
      );
    }
  });
  const now = scale(job.at);
  parts.push(`<line class="now" x1="${now}" x2="${now}" y1="0" y2="${rowHeight * job.tasks.length + 8}"></line>`);
  svg.innerHTML = parts.join("");
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function refreshJobs() {
  const { jobs } = await control("GET", "/__mock/jobs");
  if (!changed("jobs", jobs, state.selected)) return;
  const rows = $("job-rows");
  rows.replaceChildren();
  for (const job of jobs) {
    const row = rows.insertRow();
    row.className = "job-row" + (job.id === state.selected ? " selected" : "");
    row.dataset.job = job.id;
    cell(row, job.id);
    cell(row, job.workflow_name);
    cell(row, job.project_id);
    cell(row, job.status, `status-${job.status}`);
    cell(row, `${job.progress}%`);
    row.addEventListener("click", () => {
      state.selected = job.id;
      refreshJobs();
    });
  }
  const job = jobs.find((j) => j.id === state.selected);
  $("job-detail").hidden = !job;
  if (!job) return;
  $("detail-id").textContent = job.id;
  $("detail-status").textContent = `${job.status} ${job.progress}% at ${iso(job.at)}`;
  drawTimeline(job);
  const downloads = $("detail-downloads");
  downloads.replaceChildren(
    ...job.downloads.map((d) => {
      const item = document.createElement("li");
      item.textContent = `${d.task || "job"} package: ${d.status} `;
      if (d.signed_url) {
        const link = document.createElement("a");
        link.href = d.signed_url;
        link.textContent = "signed URL";
        item.append(link);
      }
      return item;
    }),
  );
}

// Outlines on a lon/lat grid (no tiles: offline): AOI polygons and their items' footprints.
function drawAoiMap(aois) {
  const svg = $("aoi-map");
  const width = Number(svg.getAttribute("width"));
  const height = Number(svg.getAttribute("height"));
  const outlines = aois.flatMap((aoi) => [
    { className: "aoi", ring: aoi.geometry[0], title: aoi.name },
    ...aoi.assets
      .filter((asset) => asset.asset_type === "stac_item")
      .map((asset) => ({ className: "footprint", ring: asset.footprint[0], title: asset.name })),
  ]);
  const points = outlines.flatMap((outline) => outline.ring);
  if (!points.length) {
    svg.innerHTML = "";
    return;
  }
  const [west, east] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  const [south, north] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  const span = Math.max(east - west, north - south, 1e-6) * 1.1;
  const scale = Math.min(width, height) / span;
  const x = (lon) => (lon - (west + east) / 2) * scale + width / 2;
  const y = (lat) => height / 2 - (lat - (south + north) / 2) * scale;
  const step = 10 ** Math.floor(Math.log10(span / 2));
  const parts = [];
  for (let lon = Math.ceil((west - span) / step) * step; lon <= east + span; lon += step) {
    parts.push(`<line class="grid" x1="${x(lon)}" x2="${x(lon)}" y1="0" y2="${height}"></line>`);
  }
  for (let lat = Math.ceil((south - span) / step) * step; lat <= north + span; lat += step) {
    parts.push(`<line class="grid" x1="0" x2="${width}" y1="${y(lat)}" y2="${y(lat)}"></line>`);
  }
  for (const outline of outlines) {
    const drawn = outline.ring.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    parts.push(`<polygon class="${outline.className}" points="${drawn}"><title>${escapeHtml(outline.title)}</title></polygon>`);
  }
  svg.innerHTML = parts.join("");
}

async function refreshAois() {
  const { aois } = await control("GET", "/__mock/aois");
  if (!changed("aois", aois)) return;
  const rows = $("aoi-rows");
  rows.replaceChildren();
  for (const aoi of aois) {
    const row = rows.insertRow();
    row.dataset.aoi = aoi.id;
    cell(row, aoi.name);
    cell(row, aoi.project_id);
    cell(row, aoi.status, `status-${aoi.status}`);
    cell(row, `${aoi.progress}%`);
    cell(row, aoi.assets.map((a) => `${a.name}: ${a.status}`).join(", ") || "-");
  }
  drawAoiMap(aois);
}

// A control-plane PNG as an <img>: fetched with the session and token headers an
// <img src> could not send.
async function previewImage(path, title) {
  const options = { headers: { "X-Mock-Session": state.namespace } };
  if (controlToken) options.headers["X-Mock-Token"] = controlToken;
  const image = document.createElement("img");
  image.className = "preview";
  image.alt = image.title = title;
  const response = await fetch(path, options);
  if (response.ok) image.src = URL.createObjectURL(await response.blob());
  return image;
}

async function refreshVisualizations() {
  const { visualizations } = await control("GET", "/__mock/visualizations");
  if (!changed("visualizations", visualizations)) return;
  const rows = $("visualization-rows");
  rows.replaceChildren();
  for (const visualization of visualizations) {
    const row = rows.insertRow();
    row.dataset.visualization = visualization.id;
    cell(row, visualization.aoi_name);
    cell(row, `${visualization.index_name} (${visualization.expression_type})`);
    cell(row, visualization.status, `status-${visualization.status}`);
    cell(row, `${visualization.progress}%`);
    const previews = cell(row, visualization.previews.length ? "" : "-");
    const images = await Promise.all(
      visualization.previews.map((p) => previewImage(p.path, `${p.date} ${p.mode}`.trim())),
    );
    previews.append(...images);
  }
}

async function refreshInsights() {
  const { insights } = await control("GET", "/__mock/insights");
  if (!changed("insights", insights)) return;
  const rows = $("insight-rows");
  rows.replaceChildren();
  for (const insight of insights) {
    const row = rows.insertRow();
    row.dataset.insight = insight.id;
    if (insight.deleted_at !== null) row.className = "deleted";
    cell(row, insight.name + (insight.deleted_at !== null ? " (deleted)" : ""));
    cell(row, insight.aoi_id);
    cell(row, insight.block);
    cell(row, insight.status + (insight.err_msg ? `: ${insight.err_msg}` : ""), `status-${insight.status}`);
    cell(row, `${insight.progress}%`);
    cell(row, insight.downloads.map((d) => d.status).join(", ") || "-");
  }
}

// Each item a row: its capture windows (light) and its tasks from submission to end (dark),
// with the mock's clock as a red line; archive items show their one task only.
function drawOrderTimeline(orders, now) {
  const svg = $("order-timeline");
  const width = Number(svg.getAttribute("width"));
  const items = orders.flatMap((order) => order.items);
  const moments = items.flatMap((item) => [
    ...item.windows.flat(),
    ...item.tasks.flatMap((task) => [task.submitted_at, task.ended_at]),
  ]);
  if (!moments.length) {
    svg.innerHTML = "";
    return;
  }
  const start = Math.min(...moments, now);
  const end = Math.max(...moments, now);
  const x = (t) => 120 + ((t - start) / Math.max(end - start, 1)) * (width - 130);
  const rowHeight = 16;
  svg.setAttribute("height", String(items.length * rowHeight + 8));
  const parts = items.flatMap((item, index) => {
    const top = index * rowHeight + 4;
    return [
      `<text x="0" y="${top + 10}">${escapeHtml(item.name.slice(0, 18))}</text>`,
      ...item.windows.map(([a, b]) => `<rect class="window" x="${x(a)}" y="${top}" width="${Math.max(x(b) - x(a), 1)}" height="12"><title>capture window</title></rect>`),
      ...item.tasks.map((task) => `<rect class="task" x="${x(task.submitted_at)}" y="${top + 4}" width="${Math.max(x(task.ended_at) - x(task.submitted_at), 1)}" height="4"><title>${escapeHtml(task.status)}</title></rect>`),
    ];
  });
  parts.push(`<line class="now" x1="${x(now)}" x2="${x(now)}" y1="0" y2="${items.length * rowHeight + 8}"></line>`);
  svg.innerHTML = parts.join("");
}

async function refreshOrders() {
  const { orders, now } = await control("GET", "/__mock/orders");
  if (!changed("orders", orders, now)) return;
  const rows = $("order-rows");
  rows.replaceChildren();
  for (const order of orders) {
    for (const item of order.items) {
      const row = rows.insertRow();
      cell(row, order.id.slice(0, 8));
      cell(row, order.status, `status-${order.status}`);
      cell(row, item.name);
      cell(row, item.type);
      cell(row, item.status, `status-${item.status}`);
      cell(row, item.tasks.map((task) => task.status).join(", ") || "-");
    }
  }
  drawOrderTimeline(orders, now);
}

async function refreshJournal() {
  const { requests } = await control("GET", "/__mock/requests?limit=200");
  const statusClass = $("status-filter").value;
  const violationsOnly = $("violations-only").checked;
  if (!changed("journal", requests, statusClass, violationsOnly)) return;
  const rows = $("journal-rows");
  rows.replaceChildren();
  for (const entry of requests.reverse()) {
    if (statusClass && String(entry.status)[0] !== statusClass) continue;
    if (violationsOnly && entry.violations.length === 0) continue;
    const row = rows.insertRow();
    if (entry.violations.length) row.className = "violation";
    cell(row, entry.method);
    cell(row, entry.path + (entry.query ? `?${entry.query}` : ""));
    cell(row, entry.status);
    cell(row, entry.duration_ms);
    cell(row, entry.operation_id ?? "");
    if (entry.violations.length) {
      const detail = rows.insertRow();
      detail.className = "violation";
      const td = cell(detail, entry.violations.join("; "), "violations");
      td.colSpan = 5;
    }
  }
}

async function refreshFaults() {
  const [{ faults }, scenario, { scenarios }] = await Promise.all([
    control("GET", "/__mock/faults"),
    control("GET", "/__mock/scenario"),
    control("GET", "/__mock/scenarios"),
  ]);
  if (!changed("faults", faults, scenario, scenarios)) return;
  $("fault-rules").replaceChildren(
    ...faults.map((rule) => {
      const item = document.createElement("li");
      item.textContent = `${rule.id} (${rule.scope}): matched ${rule.matched} - ${JSON.stringify({ match: rule.match, limit: rule.limit, action: rule.action })}`;
      return item;
    }),
  );
  $("active-scenario").textContent = JSON.stringify(scenario, null, 1);
  $("scenario-library").replaceChildren(
    ...scenarios.map((entry) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = "apply";
      button.dataset.scenario = entry.name;
      button.addEventListener("click", () => act(() => control("POST", `/__mock/scenarios/${entry.name}`)));
      item.append(button, ` ${entry.name}: ${entry.description}`);
      return item;
    }),
  );
}

function listItem(text) {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}

async function refreshCoverage() {
  const coverage = await control("GET", "/__mock/coverage");
  if (!changed("coverage", coverage)) return;
  const rows = $("coverage-rows");
  rows.replaceChildren();
  for (const [operation, entry] of Object.entries(coverage.operations)) {
    if (!entry.calls) continue;
    const row = rows.insertRow();
    row.dataset.operation = operation;
    cell(row, operation);
    cell(row, entry.calls);
    cell(row, entry.seen.join(", "), "seen");
    cell(row, entry.never_seen.join(", ") || "-", "never-seen");
  }
  $("coverage-states").replaceChildren(
    ...Object.entries(coverage.states).map(([kind, states]) => listItem(`${kind}: ${states.join(", ") || "-"}`)),
  );
  $("coverage-faults").textContent = coverage.faults.join(", ") || "-";
  $("coverage-violations").textContent = coverage.violations.length;
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    await refreshNamespaces();
    await Promise.all([
      refreshClock(),
      refreshJobs(),
      refreshAois(),
      refreshVisualizations(),
      refreshInsights(),
      refreshOrders(),
      refreshJournal(),
      refreshFaults(),
      refreshCoverage(),
    ]);
    document.body.dataset.refreshed = String(Date.now());
  } finally {
    state.busy = false;
  }
}

async function act(action) {
  await action();
  await refresh();
}

$("namespace").addEventListener("change", (event) => {
  state.namespace = event.target.value;
  state.selected = null;
  state.drawn = {};
  refresh();
});
$("advance-60").addEventListener("click", () => act(() => control("POST", "/__mock/clock/advance", { seconds: 60 })));
$("advance-600").addEventListener("click", () => act(() => control("POST", "/__mock/clock/advance", { seconds: 600 })));
$("pause").addEventListener("click", () => act(() => control("PUT", "/__mock/clock", { mode: "manual" })));
$("resume").addEventListener("click", () => act(() => control("PUT", "/__mock/clock", { mode: "wall" })));
$("status-filter").addEventListener("change", refresh);
$("violations-only").addEventListener("change", refresh);
refresh();
setInterval(refresh, 1000);
