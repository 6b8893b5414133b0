// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// joule's live page: reads the daemon's read-only API (/api/v1/*) and its event stream, draws them with uPlot.
"use strict";

(function () {
  const PAL = window.JOULE_PALETTE;
  const GROUP_KEEP_S = 3 * 3600;   // the store keeps groups and processes at 1 min for 3 h (docs/DAEMON.md)
  const TOP_GROUPS = 6;
  const TOP_PROCS = 8;
  const TABLE_ROWS = 25;

  const state = {
    win: 3600,
    host: null,          // {t:[], w:[], cpu:[], mem:[], carbon:[]} (W, g/h)
    live: null,          // the second being summed from the stream
    charts: {},
    procsPrev: new Map(),
    procsRows: [],
    sort: "energy",
    hostPrev: null,
    selfHist: [],
    selfPid: 0,
    errors: [],
    samples: 0,
    loaded: {},
  };

  // ---- the palette rule of plot_svg.c: a name's FNV-1a slot, or the next free one
  const utf8 = new TextEncoder();
  function nameHash(s) {
    let h = 2166136261;
    for (const b of utf8.encode(s)) {
      h ^= b;
      h = Math.imul(h, 16777619) >>> 0;
    }
    return h >>> 0;
  }
  function assignColors(names) {
    const taken = new Array(PAL.colors.length).fill(false);
    return names.map((n, i) => {
      let slot = nameHash(n) % PAL.colors.length;
      if (i < PAL.colors.length) {
        while (taken[slot]) slot = (slot + 1) % PAL.colors.length;
      }
      taken[slot] = true;
      return PAL.colors[slot];
    });
  }

  // ---- formatting with units
  function fmtW(v) {
    if (v == null || !isFinite(v)) return "–";
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(2) + " kW";
    if (Math.abs(v) >= 10) return v.toFixed(1) + " W";
    return v.toFixed(2) + " W";
  }
  function fmtGh(v) {
    if (v == null || !isFinite(v)) return "–";
    if (v >= 1000) return (v / 1000).toFixed(2) + " kg CO2e/h";
    if (v >= 1) return v.toFixed(2) + " g CO2e/h";
    return (v * 1000).toFixed(1) + " mg CO2e/h";
  }
  function fmtJ(uj) { return (uj / 1e6).toFixed(uj >= 1e8 ? 0 : 2); }
  function el(id) { return document.getElementById(id); }
  function text(id, s) { el(id).textContent = s; }

  function setStatus(s, cls) {
    const e = el("status");
    e.textContent = s;
    e.className = "status" + (cls ? " " + cls : "");
  }
  function fail(what, err) {
    const msg = what + ": " + (err && err.message ? err.message : String(err));
    if (state.errors.length < 20) state.errors.push(msg);
    setStatus(msg, "error");
  }

  async function getJSON(path) {
    const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
    if (!r.ok) {
      let m = r.status + "";
      try { m += " " + (await r.json()).error.message; } catch (e) { /* not the API's error JSON */ }
      throw new Error(path + ": " + m);
    }
    return r.json();
  }

  // the host keeps 1 s steps for 1 h and 1 min steps for 7 d; at most 1000 steps a query
  function hostStep(win) { return win <= 3600 ? 1 : 900; }
  function groupWindow(win) { return Math.min(win, GROUP_KEEP_S); }

  // ---- charts
  function chartWidth(id) { return Math.max(300, el(id).clientWidth - 4); }

  // Stacked series: each drawn as the cumulative sum, filled to zero, top of the stack first;
  // hover shows each layer's own value.
  function stackedChart(id, labels, colors, t, layers, hint) {
    const cum = [];
    let run = t.map(() => 0);
    for (const l of layers) {
      run = run.map((v, i) => v + (l[i] || 0));
      cum.push(blankBefore(t, run, 60));
    }
    const series = [{}];
    const data = [t];
    for (let i = layers.length - 1; i >= 0; i--) {
      const raw = layers[i];
      series.push({
        label: labels[i], stroke: colors[i], fill: colors[i], width: 1, points: { show: false },
        value: (u, v, si, idx) => idx == null ? "–" : fmtW(raw[idx]),
      });
      data.push(cum[i]);
    }
    drawChart(id, series, data, "W");
    if (hint != null) text(id.replace("chart-", "") + "-hint", hint);
  }

  function drawChart(id, series, data, unit) {
    const old = state.charts[id];
    if (old) old.destroy();
    const opts = {
      width: chartWidth(id), height: 260, series,
      scales: { x: { time: true } },
      axes: [{}, { values: (u, vals) => vals.map((v) => v + " " + unit), size: 70 }],
      cursor: { points: { show: false } },
    };
    el(id).textContent = "";
    state.charts[id] = new uPlot(opts, data, el(id));
  }

  function lineSeries(label, color, fmt, fill) {
    return { label, stroke: color, width: 1.5, fill: fill || undefined, points: { show: false },
             value: (u, v) => v == null ? "–" : fmt(v) };
  }

  function drawHost() {
    const h = state.host;
    drawChart("chart-host", [
      {},
      lineSeries("host", PAL.hostLine, fmtW, PAL.host),
      lineSeries("CPU (package)", PAL.colors[0], fmtW),
      lineSeries("memory (DRAM)", PAL.colors[1], fmtW),
    ], [h.t, h.w, h.cpu, h.mem], "W");
    drawChart("chart-carbon", [{}, lineSeries("carbon rate", PAL.colors[2], fmtGh, PAL.idle)], [h.t, h.carbon], "g/h");
  }

  // append one live second to the host charts (1 s steps only: the 7 d view has 15 min steps)
  function pushLive(sec, uj, cpu, mem, ug, ns) {
    const h = state.host;
    if (!h || hostStep(state.win) !== 1 || !ns) return;
    if (h.t.length && sec <= h.t[h.t.length - 1]) return;
    const s = ns / 1e9;
    h.t.push(sec); h.w.push(uj / 1e6 / s); h.cpu.push(cpu / 1e6 / s); h.mem.push(mem / 1e6 / s);
    h.carbon.push(ug / 1e6 / s * 3600);
    while (h.t.length && h.t[0] < sec - state.win) {
      h.t.shift(); h.w.shift(); h.cpu.shift(); h.mem.shift(); h.carbon.shift();
    }
    state.charts["chart-host"].setData([h.t, h.w, h.cpu, h.mem]);
    state.charts["chart-carbon"].setData([h.t, h.carbon]);
  }

  async function loadHost() {
    const step = hostStep(state.win);
    const e = await getJSON("/api/v1/energy?window=" + state.win + "s&step=" + step + "s");
    const k = 1 / step;
    const t = e.time_points.slice();
    state.host = {
      t,
      w: blankBefore(t, e.energy_consumed.map((j) => j * k), step),
      cpu: blankBefore(t, e.cpu_energy.map((j) => j * k), step),
      mem: blankBefore(t, e.memory_energy.map((j) => j * k), step),
      carbon: blankBefore(t, e.carbon_emitted.map((g) => g * k * 3600), step),
    };
    drawHost();
    text("host-hint", "(" + (step === 1 ? "1 s" : step / 60 + " min") + " steps" + (step === 1 ? ", live" : "") + ")");
    text("carbon-hint", "(operational and embodied, g CO2e per hour)");
    state.loaded.host = true;
  }

  async function loadGroups() {
    const win = groupWindow(state.win);
    const apps = await getJSON("/api/v1/apps?limit=" + TOP_GROUPS);
    const host = await getJSON("/api/v1/energy?window=" + win + "s&step=60s");
    const names = [], layers = [];
    for (const a of apps.apps) {
      try {
        const g = await getJSON("/api/v1/energy?group=" + encodeURIComponent(a.name) + "&window=" + win + "s&step=60s");
        names.push(a.name);
        layers.push(alignTo(host.time_points.length, g.energy_consumed).map((j) => j / 60));
      } catch (err) {
        // a group forgotten between the two queries is simply not drawn
      }
    }
    const sum = host.energy_consumed.map((j, i) => layers.reduce((s, l) => s + l[i], 0));
    const rest = host.energy_consumed.map((j, i) => Math.max(0, j / 60 - sum[i]));
    stackedChart("chart-groups", names.concat(["rest (other groups, idle)"]),
      assignColors(names).concat([PAL.rest]), host.time_points, layers.concat([rest]),
      "(1 min steps, last " + win / 60 + " min" + (win < state.win ? ": groups are kept for 3 h" : "") + ")");
    state.loaded.groups = names.length;
  }

  // steps before the daemon's first sample have no data, not zero watts: null leaves a gap
  function blankBefore(t, arr, step) {
    const first = state.firstSample || 0;
    return arr.map((v, i) => (t[i] + step <= first ? null : v));
  }

  function alignTo(n, arr) {
    if (arr.length === n) return arr;
    const out = new Array(n).fill(0);
    for (let i = 0; i < Math.min(n, arr.length); i++) out[n - 1 - i] = arr[arr.length - 1 - i];
    return out;
  }

  async function loadProcs() {
    const win = groupWindow(state.win);
    const e = await getJSON("/api/v1/energy?window=" + win + "s&step=60s&breakdown=true");
    const top = (e.processes || []).slice(0, TOP_PROCS);
    const n = e.time_points.length;
    const names = top.map((p) => p.comm);
    const layers = top.map((p) => alignTo(n, p.energy_consumed).map((j) => j / 60));
    const sum = e.energy_consumed.map((j, i) => layers.reduce((s, l) => s + l[i], 0));
    const rest = e.energy_consumed.map((j, i) => Math.max(0, j / 60 - sum[i]));
    stackedChart("chart-procs", top.map((p) => p.comm + " [" + p.pid + "]").concat(["rest (other processes, idle)"]),
      assignColors(names).concat([PAL.rest]), e.time_points, layers.concat([rest]),
      "(1 min steps, last " + win / 60 + " min)");
    state.loaded.procs = top.length;
  }

  // ---- cards
  const SOURCE_WORDS = {
    powercap: "measured: the CPU's RAPL energy counters (powercap sysfs). The package is measured as a whole; its split over processes follows their CPU time.",
    msr: "measured: the CPU's RAPL energy counters read from MSRs. The package is measured as a whole; its split over processes follows their CPU time.",
    perf: "measured: the CPU's RAPL counters through the perf power PMU. The package is measured as a whole; its split over processes follows their CPU time.",
    model: "a model, not a measurement: power is estimated from CPU utilisation between an idle and a full-load figure. Expect errors of tens of percent.",
  };

  async function loadHostCard() {
    const h = await getJSON("/api/v1/host");
    const now = performance.now();
    const src = h.source || "none yet";
    text("source-name", src === "model" ? "model (estimated)" : src);
    el("source-name").className = "big" + (src === "model" ? " model" : "");
    text("source-words", SOURCE_WORDS[h.source] || "no sample yet");
    const i = h.intensity || {};
    text("carbon-intensity", "intensity " + Number(i.g_per_kwh).toFixed(0) + " g CO2e/kWh" +
      (i.rel_sd ? " ± " + (i.rel_sd * 100).toFixed(0) + " % (1σ)" : "") +
      ", " + (i.kind || "?") + (i.zone ? " " + i.zone : "") + (i.year ? " " + i.year : "") +
      (i.source ? "; source: " + i.source : "") + "; PUE " + i.pue);
    // power per RAPL domain from the counters' totals between two reads (domains overlap: never summed)
    const prev = state.hostPrev;
    if (prev && now > prev.at) {
      const dt = (now - prev.at) / 1000;
      const parts = [];
      for (const d of h.domains) {
        const a = prev.dom[d], b = h.totals.domains_uj[d];
        if (a != null && b != null) parts.push(d + " " + fmtW((b - a) / 1e6 / dt));
      }
      text("power-domains", parts.join(" · ") + " (domains overlap: package includes core)");
    }
    state.hostPrev = { at: now, dom: Object.assign({}, h.totals.domains_uj) };
    state.selfPid = h.pid || 0;
    if (h.first_sample_time) state.firstSample = Math.floor(Date.parse(h.first_sample_time) / 1000);
    state.loaded.card = true;
  }

  async function loadSelf() {
    if (!state.selfPid) return;
    const p = await getJSON("/api/v1/processes/" + state.selfPid);
    const now = performance.now();
    // over the last 30 s, not one 2 s gap: a tick's charge lands in bursts on a busy host
    const hist = (state.selfHist || []).filter((x) => now - x.at <= 30000);
    const prev = hist[0];
    hist.push({ at: now, uj: p.energy_uj, ns: p.cpu_ns });
    state.selfHist = hist;
    if (prev && now > prev.at) {
      const dt = (now - prev.at) / 1000;
      const w = (p.energy_uj - prev.uj) / 1e6 / dt;
      const cpu = (p.cpu_ns - prev.ns) / 1e9 / dt;
      text("self-power", fmtW(w));
      text("self-cpu", (cpu * 100).toFixed(2) + " % of one CPU over " + ((now - prev.at) / 1000).toFixed(0) + " s; " + fmtJ(p.energy_uj) + " J since start (pid " + p.pid + ")");
    }
  }

  // ---- the process table
  async function loadTable() {
    const r = await getJSON("/api/v1/processes?sort=energy&limit=" + TABLE_ROWS);
    const now = performance.now();
    const rows = r.processes.map((p) => {
      const key = p.pid + "@" + p.first_seen;
      const prev = state.procsPrev.get(key);
      const w = prev && now > prev.at ? (p.energy_uj - prev.uj) / 1e6 / ((now - prev.at) / 1000) : null;
      return { p, key, w };
    });
    state.procsPrev = new Map(rows.map((x) => [x.key, { at: now, uj: x.p.energy_uj }]));
    state.procsRows = rows;
    drawTable();
  }

  function drawTable() {
    const rows = state.procsRows.slice();
    if (state.sort === "power") rows.sort((a, b) => (b.w || 0) - (a.w || 0));
    else rows.sort((a, b) => b.p.energy_uj - a.p.energy_uj);
    const colors = assignColors(rows.map((x) => x.p.comm));
    const tb = document.querySelector("#procs tbody");
    tb.textContent = "";
    rows.forEach((x, i) => {
      const tr = document.createElement("tr");
      const cells = [x.p.pid, x.p.comm, x.p.group || "", fmtJ(x.p.energy_uj), x.w == null ? "…" : fmtW(x.w),
        (x.p.carbon_ug / 1e6).toFixed(4), (x.p.cpu_ns / 1e9).toFixed(1)];
      cells.forEach((c, j) => {
        const td = document.createElement("td");
        if (j === 1) {
          const sw = document.createElement("span");
          sw.className = "swatch";
          sw.style.background = colors[i];
          td.appendChild(sw);
        }
        td.appendChild(document.createTextNode(String(c)));
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    for (const b of document.querySelectorAll(".sort")) b.classList.toggle("on", b.dataset.sort === state.sort);
  }

  // ---- the live stream: 10 samples a second, summed into whole seconds
  function openStream() {
    const es = new EventSource("/api/v1/stream");
    es.addEventListener("sample", (ev) => {
      let s;
      try { s = JSON.parse(ev.data); } catch (e) { fail("stream", e); return; }
      state.samples++;
      const sec = Math.floor(Date.parse(s.time) / 1000);
      const L = state.live;
      if (L && L.sec !== sec) {
        const secs = L.ns / 1e9;
        if (secs > 0) {
          text("power-now", fmtW(L.uj / 1e6 / secs));
          text("carbon-now", fmtGh(L.ug / 1e6 / secs * 3600));
        }
        pushLive(L.sec, L.uj, L.cpu, L.mem, L.ug, L.ns);
      }
      if (!L || L.sec !== sec) state.live = { sec, uj: 0, cpu: 0, mem: 0, ug: 0, ns: 0 };
      const c = state.live;
      c.uj += s.energy_uj; c.cpu += s.cpu_energy_uj; c.mem += s.memory_energy_uj; c.ug += s.carbon_ug;
      c.ns += s.interval_ns;
      setStatus("live · " + s.source + " · sample " + s.seq, "live");
    });
    es.onerror = () => setStatus("stream interrupted: reconnecting…", "error");
  }

  async function safely(what, f) {
    try { await f(); } catch (err) { fail(what, err); }
  }

  async function loadWindow() {
    await safely("host series", loadHost);
    await safely("groups", loadGroups);
    await safely("processes", loadProcs);
  }

  function start() {
    for (const b of document.querySelectorAll("#windows button")) {
      b.addEventListener("click", () => {
        state.win = Number(b.dataset.window);
        for (const o of document.querySelectorAll("#windows button")) o.classList.toggle("on", o === b);
        loadWindow();
      });
    }
    for (const b of document.querySelectorAll(".sort")) {
      b.addEventListener("click", () => { state.sort = b.dataset.sort; drawTable(); });
    }
    window.addEventListener("resize", () => {
      for (const [id, c] of Object.entries(state.charts)) c.setSize({ width: chartWidth(id), height: 260 });
    });
    // the first sample's time first: the charts leave the steps before it blank
    safely("host", loadHostCard).then(() => { safely("overhead", loadSelf); loadWindow(); });
    safely("process table", loadTable);
    openStream();
    setInterval(() => safely("host", loadHostCard).then(() => safely("overhead", loadSelf)), 2000);
    setInterval(() => safely("process table", loadTable), 3000);
    setInterval(() => { safely("groups", loadGroups); safely("processes", loadProcs); }, 60000);
    setInterval(() => { if (hostStep(state.win) !== 1) safely("host series", loadHost); }, 300000);
  }

  // what the browser tests read: series names per chart, points drawn, errors seen
  window.joule = {
    summary() {
      const charts = {};
      for (const [id, c] of Object.entries(state.charts)) {
        charts[id] = { series: c.series.slice(1).map((s) => s.label), points: c.data[0].length };
      }
      return { charts, errors: state.errors.slice(), samples: state.samples, loaded: state.loaded,
               rows: state.procsRows.length, selfPid: state.selfPid };
    },
    nameHash, assignColors,
  };

  document.addEventListener("DOMContentLoaded", start);
})();
