/* Results pages: charts (Chart.js, vendored), PNG/SVG download, sortable tables, item drill-down. */
(function () {
  "use strict";
  const VP = (window.VP = { charts: {} });
  VP.palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];  // Okabe–Ito: colour-blind safe
  VP.data = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  // Charts get a white background so downloaded PNGs are readable anywhere.
  const whiteBackground = {
    id: "whiteBackground",
    beforeDraw(chart) {
      const ctx = chart.ctx;
      ctx.save();
      ctx.globalCompositeOperation = "destination-over";
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    },
  };

  // 95% intervals on bar charts: options.plugins.intervals = {low: [...], high: [...]}.
  const intervals = {
    id: "intervals",
    afterDatasetsDraw(chart, _args, opts) {
      if (!opts || !opts.low) return;
      const meta = chart.getDatasetMeta(0);
      const scale = chart.scales[chart.options.indexAxis === "y" ? "x" : "y"];
      const ctx = chart.ctx;
      const area = chart.chartArea;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      ctx.strokeStyle = "#1d2330";
      ctx.lineWidth = 1.4;
      meta.data.forEach((bar, i) => {
        const lo = opts.low[i], hi = opts.high[i];
        if (lo === null || hi === null || lo === undefined || hi === undefined) return;
        const x = bar.x, y1 = scale.getPixelForValue(lo), y2 = scale.getPixelForValue(hi);
        ctx.beginPath();
        ctx.moveTo(x, y1); ctx.lineTo(x, y2);
        ctx.moveTo(x - 5, y1); ctx.lineTo(x + 5, y1);
        ctx.moveTo(x - 5, y2); ctx.lineTo(x + 5, y2);
        ctx.stroke();
      });
      ctx.restore();
    },
  };

  // Point labels on scatter charts: options.plugins.pointLabels = {display: true}. Labels never overlap:
  // each tries eight places around its point and takes the first free one inside the chart; a label with
  // no free place is left out (its point keeps its tooltip, and every point is in the table beside the chart).
  const pointLabels = {
    id: "pointLabels",
    afterDatasetsDraw(chart, _args, opts) {
      if (!opts || !opts.display) return;
      const ctx = chart.ctx;
      const area = chart.chartArea;
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = "#1d2330";
      ctx.textBaseline = "alphabetic";
      const height = 11;
      const placed = [];
      const points = [];
      chart.data.datasets.forEach((ds, di) => {
        if (opts.datasets && !opts.datasets.includes(di)) return;
        chart.getDatasetMeta(di).data.forEach((pt, i) => {
          const label = ds.data[i] && ds.data[i].label;
          if (label) points.push({ x: pt.x, y: pt.y, label });
        });
      });
      // The points themselves are obstacles too, so a label never covers another model's dot.
      points.forEach((p) => placed.push({ x: p.x - 3, y: p.y - 3, w: 6, h: 6 }));
      const labelBoxes = [];
      const overlaps = (a) => placed.some((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h);
      points.forEach((p) => {
        const w = ctx.measureText(p.label).width;
        const candidates = [
          [5, -4], [5, height + 4], [-w - 5, -4], [-w - 5, height + 4],
          [-w / 2, -8], [-w / 2, height + 8], [8, height / 2], [-w - 8, height / 2],
        ];
        for (const [dx, dy] of candidates) {
          const box = { x: p.x + dx, y: p.y + dy - height, w, h: height + 2 };
          const inside = box.x >= area.left && box.x + box.w <= area.right && box.y >= area.top && box.y + box.h <= area.bottom;
          if (inside && !overlaps(box)) {
            placed.push(box);
            labelBoxes.push({ ...box, label: p.label });
            ctx.fillText(p.label, box.x, p.y + dy);
            return;
          }
        }
      });
      chart.$pointLabelBoxes = { drawn: labelBoxes, points: points.length };  // read by the browser tests
      ctx.restore();
    },
  };
  // A second channel besides colour, for colour-blind visitors and greyscale prints: series i gets marker
  // shape VP.shapes[i] (and line dash VP.dashes[i] on radar lines), shown in the legend as well.
  VP.shapes = ["circle", "rect", "triangle", "rectRot", "star", "crossRot", "cross", "rectRounded"];
  VP.dashes = [[], [6, 3], [2, 3], [8, 3, 2, 3], [12, 4], [1, 3], [4, 2, 1, 2], [10, 2]];
  VP.series = (i, line) => Object.assign({ pointStyle: VP.shapes[i % VP.shapes.length], pointRadius: 5, pointHoverRadius: 7,
    pointBackgroundColor: VP.colour(i), pointBorderColor: VP.colour(i) }, line ? { borderDash: VP.dashes[i % VP.dashes.length], borderWidth: 2 } : {});
  // Bar charts of several series: the series' marker at the end of each bar (options.plugins.seriesMarkers).
  const seriesMarkers = {
    id: "seriesMarkers",
    afterDatasetsDraw(chart, _args, opts) {
      if (!opts || !opts.display) return;
      const ctx = chart.ctx;
      ctx.save();
      chart.data.datasets.forEach((ds, di) => {
        const meta = chart.getDatasetMeta(di);
        if (meta.hidden) return;
        meta.data.forEach((bar) => {
          if (bar.skip || Number.isNaN(bar.x) || Number.isNaN(bar.y)) return;
          ctx.fillStyle = "#fff";
          ctx.strokeStyle = "#1d2330";
          ctx.lineWidth = 1.2;
          window.Chart.helpers.drawPoint(ctx, { pointStyle: ds.pointStyle, radius: 4, rotation: 0, borderWidth: 1.2 },
            bar.x, bar.y);
        });
      });
      ctx.restore();
    },
  };
  if (window.Chart) window.Chart.register(whiteBackground, intervals, pointLabels, seriesMarkers);
  const markedLegend = { labels: { usePointStyle: true, boxHeight: 9 } };

  VP.chart = function (id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return null;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    const chart = new window.Chart(canvas, config);
    VP.charts[id] = chart;
    return chart;
  };

  VP.colour = (i, alpha) => {
    const hex = VP.palette[i % VP.palette.length];
    if (alpha === undefined) return hex;
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  };

  function save(href, filename) {
    const a = document.createElement("a");
    a.href = href;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  // SVG export. Chart.js draws on canvas only, so the chart is drawn a second time into a
  // canvas2svg recording context (static/vendor/canvas2svg.js): real vector shapes and text.
  // Three gaps of canvas2svg 1.0.16 are bridged here: Path2D (Chart.js strokes lines through it,
  // so Path2D is swapped for a recorder whose commands are replayed), clip paths that lose their
  // rectangle, and the missing setLineDash/resetTransform. Should anything fail, the download is an
  // SVG document embedding the chart's pixels instead. Both carry the data in <desc>.
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const describe = (chart) => chart.data.datasets.map((ds) => `${ds.label || ""}: ${JSON.stringify(ds.data)}`).join("\n");

  class RecordedPath {
    constructor() { this.ops = []; }
  }
  ["moveTo", "lineTo", "bezierCurveTo", "quadraticCurveTo", "arc", "arcTo", "rect", "ellipse", "closePath"].forEach((name) => {
    RecordedPath.prototype[name] = function (...args) { this.ops.push([name, args]); };
  });

  function patchCanvas2Svg(C2S) {
    const P = C2S.prototype;
    if (P.__vpPatched) return;
    P.__vpPatched = true;
    if (!P.setLineDash) {
      P.setLineDash = function (dash) { this.__vpDash = dash; };
      P.getLineDash = function () { return this.__vpDash || []; };
    }
    if (!P.resetTransform) P.resetTransform = function () {};
    // Chart.js writes fonts as "normal 12px 'Helvetica Neue', ...", which canvas2svg's parser rejects.
    P.__parseFont = function () {
      const m = /^\s*((?:(?:italic|oblique|normal|small-caps|bold(?:er)?|lighter|[1-9]00)\s+)*)([.\d]+(?:px|pt|em|rem|%))(?:\s*\/\s*\S+)?\s+(.+?)\s*$/i.exec(this.font || "") || [];
      const words = (m[1] || "").toLowerCase();
      return { style: (/italic|oblique/.exec(words) || ["normal"])[0], size: m[2] || "10px", family: m[3] || "sans-serif",
        weight: (/bold(?:er)?|lighter|[1-9]00/.exec(words) || ["normal"])[0], decoration: "normal", href: null };
    };
    const clip = P.clip, stroke = P.stroke, fill = P.fill;
    P.clip = function () {
      if (this.__currentElement.nodeName === "path") this.__applyCurrentDefaultPath();
      return clip.call(this);
    };
    const replay = (context, path) => {
      context.beginPath();
      path.ops.forEach(([name, args]) => context[name](...args));
    };
    P.stroke = function (path) { if (path instanceof RecordedPath) replay(this, path); return stroke.call(this); };
    P.fill = function (path) { if (path instanceof RecordedPath) replay(this, path); return fill.call(this); };
  }

  function vectorSvg(chart, title) {
    const C2S = window.C2S;
    const w = chart.width, h = chart.height;
    patchCanvas2Svg(C2S);
    const context = new C2S(w, h);
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext = () => context;
    context.canvas = canvas;
    const savedPath2D = window.Path2D;
    let copy = null;
    window.Path2D = RecordedPath;
    try {
      copy = new window.Chart(context, {
        type: chart.config.type,
        data: JSON.parse(JSON.stringify(chart.config.data)),
        options: Object.assign({}, chart.config.options, { responsive: false, animation: false, devicePixelRatio: 1 }),
      });
    } finally {
      window.Path2D = savedPath2D;
    }
    // Serialise a copy before destroy(), which clears the canvas (a white rectangle over everything).
    const svg = context.getSvg().cloneNode(true);
    copy.destroy();
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const titleNode = document.createElementNS("http://www.w3.org/2000/svg", "title");
    titleNode.textContent = title;
    const descNode = document.createElementNS("http://www.w3.org/2000/svg", "desc");
    descNode.textContent = describe(chart);
    svg.insertBefore(descNode, svg.firstChild);
    svg.insertBefore(titleNode, svg.firstChild);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg);
  }

  function rasterSvg(chart, title) {
    const w = chart.width, h = chart.height;
    const png = chart.toBase64Image("image/png", 1);
    return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">` +
      `<title>${esc(title)}</title><desc>${esc(describe(chart))}</desc><image width="${w}" height="${h}" xlink:href="${png}"/></svg>`;
  }

  VP.chartSvg = function (chart, title) {
    if (window.C2S) {
      try {
        return vectorSvg(chart, title);
      } catch (error) {
        console.warn("vector SVG failed, embedding the chart image instead:", error);
      }
    }
    return rasterSvg(chart, title);
  };

  document.addEventListener("click", (event) => {
    const png = event.target.closest("[data-chart-png]");
    if (png) {
      const chart = VP.charts[png.dataset.chartPng];
      if (chart) save(chart.toBase64Image("image/png", 1), (png.dataset.filename || png.dataset.chartPng) + ".png");
      return;
    }
    const svg = event.target.closest("[data-chart-svg]");
    if (svg) {
      const chart = VP.charts[svg.dataset.chartSvg];
      if (!chart) return;
      const blob = new Blob([VP.chartSvg(chart, svg.dataset.filename || svg.dataset.chartSvg)], { type: "image/svg+xml" });
      const url = URL.createObjectURL(blob);
      save(url, (svg.dataset.filename || svg.dataset.chartSvg) + ".svg");
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      return;
    }
    const text = event.target.closest("[data-download-text]");
    if (text) {
      const source = document.getElementById(text.dataset.downloadText);
      const blob = new Blob([source.textContent], { type: text.dataset.type || "text/plain" });
      const url = URL.createObjectURL(blob);
      save(url, text.dataset.filename || "download.txt");
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    }
  });

  // Sortable tables: click a header with data-sort ("num" or "text"); cells carry data-value.
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("th[data-sort]").forEach((th) => {
      th.addEventListener("click", () => {
        const index = Array.from(th.parentNode.children).indexOf(th);
        const body = table.tBodies[0];
        const numeric = th.dataset.sort === "num";
        const desc = !th.classList.contains("sorted-desc");
        table.querySelectorAll("th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
        th.classList.add(desc ? "sorted-desc" : "sorted-asc");
        const key = (row) => {
          const cell = row.children[index];
          const raw = cell ? (cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim()) : "";
          if (!numeric) return raw.toLowerCase();
          const n = parseFloat(raw);
          return Number.isNaN(n) ? null : n;
        };
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const ka = key(a), kb = key(b);
          if (ka === null) return 1;
          if (kb === null) return -1;
          if (ka < kb) return desc ? 1 : -1;
          if (ka > kb) return desc ? -1 : 1;
          return 0;
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  });

  // Filter forms submit themselves when a select or radio changes.
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
    form.querySelectorAll("select, input[type=radio]").forEach((el) =>
      el.addEventListener("change", () => form.requestSubmit ? form.requestSubmit() : form.submit()));
  });
  document.querySelectorAll("[data-check-all], [data-check-none]").forEach((button) => {
    button.addEventListener("click", () => {
      const form = button.closest("form");
      const on = button.hasAttribute("data-check-all");
      form.querySelectorAll("input[type=checkbox][name=dimensions]").forEach((box) => (box.checked = on));
    });
  });
  // Compare: at most N models.
  document.querySelectorAll("[data-max-checked]").forEach((group) => {
    const max = parseInt(group.dataset.maxChecked, 10);
    const counter = group.dataset.count ? document.querySelector(group.dataset.count) : null;
    const update = () => {
      const checked = group.querySelectorAll("input[type=checkbox]:checked").length;
      group.querySelectorAll("input[type=checkbox]").forEach((box) => {
        box.disabled = !box.checked && checked >= max;  // the limit is visible: the rest cannot be ticked
      });
      if (counter) {
        counter.innerHTML = `<strong>${checked}</strong> of at most ${max} models chosen` +
          (checked >= max ? " (untick one to choose another)" : "");
      }
    };
    group.addEventListener("change", update);
    update();
  });

  // A search box that hides the chips whose label does not contain the text (the model chooser).
  document.querySelectorAll("[data-filter-chips]").forEach((input) => {
    const target = document.querySelector(input.dataset.filterChips);
    if (!target) return;
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      target.querySelectorAll("label").forEach((chip) => {
        chip.hidden = needle !== "" && !chip.textContent.toLowerCase().includes(needle);
      });
    });
  });

  // Model page: click a dimension to list the items behind its score.
  const panel = document.getElementById("items-panel");
  if (panel) {
    const esc = (s) => String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    document.addEventListener("click", async (event) => {
      const link = event.target.closest("[data-dimension]");
      if (!link) return;
      const url = `${panel.dataset.url}?family=${encodeURIComponent(link.dataset.family)}&dimension=${encodeURIComponent(link.dataset.dimension)}`;
      panel.innerHTML = `<p class="muted">Loading the items behind ${esc(link.dataset.dimension)}…</p>`;
      panel.scrollIntoView({ behavior: "smooth", block: "start" });
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) {
        panel.innerHTML = `<p class="error-box">${esc(data.detail)}</p>`;
        return;
      }
      const head = `<div class="chart-head"><h3>${esc(data.dimension)}: ${data.items.length} items (ρ ≥ ${esc(data.threshold)}, p < ${esc(data.alpha)}, ${esc(data.mode)}), most endorsed first</h3>` +
        `<span class="downloads"><a href="${url}&format=csv">CSV</a><a href="${url}" download="items.json">JSON</a></span></div>`;
      // Case studies: the responses the model endorsed most first, those it rejected last.
      const byRating = (item) => (item.mean_rating === null ? -Infinity : item.mean_rating);
      const ordered = data.items.slice().sort((a, b) => byRating(b) - byRating(a));
      const stance = (item) => {
        if (item.mean_rating === null) return "";
        if (item.mean_rating >= 4) return ' <span class="badge endorses">endorses</span>';
        if (item.mean_rating <= 3) return ' <span class="badge rejects">rejects</span>';
        return ' <span class="badge">neutral</span>';
      };
      const cards = ordered.map((item) => {
        const answers = item.answers.map((a) => `<tr><td>${a.prompt_index + 1}</td><td>${a.rating === null ? "<em>unparsed</em>" : a.rating}</td><td>${esc(a.raw_text)}</td></tr>`).join("");
        return `<div class="item-card"><h4>${esc(item.title || item.item_id)}${stance(item)}</h4>` +
          `<div class="meta">${esc(item.item_id)} · ${esc(item.source)} · ρ = ${item.rho === null ? "–" : item.rho.toFixed(2)} · model's mean rating ${item.mean_rating === null ? "–" : item.mean_rating.toFixed(2)}</div>` +
          `<blockquote><strong>Query:</strong> ${esc(item.query)}</blockquote><blockquote><strong>Response:</strong> ${esc(item.response)}</blockquote>` +
          `<details><summary>Six answers</summary><table><thead><tr><th>Prompt</th><th>Rating</th><th>Raw answer</th></tr></thead><tbody>${answers}</tbody></table></details></div>`;
      }).join("");
      panel.innerHTML = head + (cards || '<p class="muted">No items are keyed to this dimension.</p>');
    });
  }
  // --- page charts: each page ships its data as <script type="application/json"> (no inline code, CSP-safe) ---

  // Leaderboard model search: the server filters by ?q= (works without JavaScript); here the shown rows
  // narrow as the visitor types, by the same rule (every word in the name or provider, case-insensitive).
  function liveModelSearch() {
    const input = document.getElementById("model-search");
    const table = document.getElementById("leaderboard");
    if (!input || !table) return;
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      table.querySelectorAll("tbody tr[data-model]").forEach((tr) => {
        const text = tr.querySelector("td.model").textContent.toLowerCase();
        tr.hidden = !words.every((w) => text.includes(w));
      });
    });
  }

  function leaderboardPage() {
    liveModelSearch();
    const d = VP.data("welfare-data");
    if (!d) return;
    // The axis is fitted to the data, not started at 0: welfare values in [0, 1] often differ only in
    // the second or third decimal, which bars from 0 would hide. The axis title says so.
    const values = d.values.filter((x) => x !== null && x !== undefined);
    const x = { title: { display: true, text: "welfare (0–1; axis does not start at 0)" } };
    if (values.length) {
      const lo = Math.min(...values), hi = Math.max(...values);
      const pad = Math.max((hi - lo) * 0.15, 0.002);
      x.min = Math.max(0, Math.floor((lo - pad) * 1000) / 1000);
      x.max = Math.min(1, Math.ceil((hi + pad) * 1000) / 1000);
    }
    VP.chart("welfare-chart", {
      type: "bar",
      // Bars start at the axis minimum (base), not at 0 far off to the left.
      data: { labels: d.labels, datasets: [{ label: "welfare (0-1)", data: d.values, base: x.min, backgroundColor: VP.colour(0, 0.7) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x } },
    });
  }

  function modelPage() {
    const blocks = VP.data("model-data");
    if (!blocks) return;
    const finite = (xs) => xs.filter((x) => x !== null && x !== undefined);
    blocks.forEach((b) => {
      const centred = b.field === "score";
      VP.chart("radar-" + b.family, {
        type: "radar",
        data: { labels: b.chart.labels, datasets: [{ label: b.label, data: b.chart.values, base: centred ? 0 : 1, backgroundColor: VP.colour(0, 0.2), borderColor: VP.colour(0), pointRadius: 3 }] },
        options: { plugins: { legend: { display: false } }, scales: { r: centred ? { suggestedMin: -1, suggestedMax: 1 } : { suggestedMin: 1, suggestedMax: 6 } } },
      });
      const hasCi = finite(b.chart.low).length > 0;
      const yScale = centred
        ? { suggestedMin: Math.min(0, ...finite(b.chart.low), ...finite(b.chart.values)),
            suggestedMax: Math.max(0, ...finite(b.chart.high), ...finite(b.chart.values)),
            title: { display: true, text: "score (centred)" } }
        : { min: 1, max: 6, title: { display: true, text: "mean rating" } };
      VP.chart("bar-" + b.family, {
        type: "bar",
        data: { labels: b.chart.labels, datasets: [{ label: b.label, data: b.chart.values, base: centred ? 0 : 1,
          backgroundColor: b.chart.values.map((v) => (v !== null && v < (centred ? 0 : 3.5) ? VP.colour(0, 0.6) : VP.colour(1, 0.6))) }] },
        options: { plugins: { legend: { display: false }, intervals: hasCi ? { low: b.chart.low, high: b.chart.high } : {} },
          scales: { y: Object.assign({ grace: "5%" }, yScale) },
          // A bar opens the items behind its score, like the dimension buttons in the table.
          onClick: (_event, elements) => {
            if (!elements.length) return;
            const button = document.querySelector(`button.dim-link[data-family="${b.family}"][data-dimension="${b.chart.labels[elements[0].index]}"]`);
            if (button) button.click();
          } },
      });
    });
  }

  function comparePage() {
    const d = VP.data("compare-data");
    if (!d) return;
    VP.chart("compare-radar", {
      type: "radar",
      data: { labels: d.labels, datasets: d.datasets.map((ds, i) => ({ label: ds.label, data: ds.data, borderColor: VP.colour(i), backgroundColor: VP.colour(i, 0.12), ...VP.series(i, true) })) },
      options: { plugins: { legend: markedLegend }, scales: { r: d.centred ? { suggestedMin: -1, suggestedMax: 1 } : { suggestedMin: 1, suggestedMax: 6 } } },
    });
    const c = VP.data("conditions-data");
    if (c) {
      VP.chart("conditions-chart", {
        type: "bar",
        data: { labels: c.labels, datasets: c.datasets.map((ds, i) => ({ label: ds.label, data: ds.data, backgroundColor: VP.colour(i, 0.7), pointStyle: VP.shapes[i % VP.shapes.length] })) },
        options: { plugins: { legend: markedLegend, seriesMarkers: { display: c.datasets.length > 1 } }, scales: { y: { title: { display: true, text: "condition − baseline" } } } },
      });
    }
  }

  function alignmentPage() {
    const pca = VP.data("pca-data");
    if (!pca) return;
    // Two maps, never mixed: profiles (models and human groups) and deviations (persona effects and groups).
    const map = (id, data, kinds, names) => VP.chart(id, {
      type: "scatter",
      data: { datasets: kinds.map((kind, i) => ({ label: names[i],
        data: data.points.filter((p) => p.kind === kind).map((p) => ({ x: p.x, y: p.y, label: p.name })),
        backgroundColor: VP.colour(i, 0.8), ...VP.series(i, false), pointBackgroundColor: VP.colour(i, 0.8) })) },
      options: { layout: { padding: { right: 90 } }, plugins: { legend: markedLegend, pointLabels: { display: true, datasets: data.points.length <= 30 ? null : [1] },
        tooltip: { callbacks: { label: (ctx) => `${ctx.raw.label} (${ctx.raw.x.toFixed(2)}, ${ctx.raw.y.toFixed(2)})` } } },
        scales: { x: { title: { display: true, text: `PC1 of ${names[2]}` } }, y: { title: { display: true, text: `PC2 of ${names[2]}` } } } },
    });
    map("pca-chart", pca, ["model", "human group"], ["Models (centred profile)", "Human groups (centred profile)", "centred profiles"]);
    const deviations = VP.data("pca-deviation-data");
    if (deviations) map("pca-deviation-chart", deviations, ["persona effect", "human group"],
      ["Persona − baseline", "Group − population", "deviations"]);
    const labels = VP.data("dimension-names");
    (VP.data("bias-data") || []).forEach((chart) => {
      const bars = (sets) => sets.map((ds, i) => ({ label: ds.label, data: ds.data, backgroundColor: VP.colour(i, 0.75), pointStyle: VP.shapes[i % VP.shapes.length] }));
      // One y-range for both panels of a group kind, so human and model bars compare by eye.
      const values = [...chart.human, ...chart.model].flatMap((ds) => ds.data).filter((x) => x !== null);
      const bound = Math.max(0.3, ...values.map(Math.abs));
      const opts = { plugins: { legend: markedLegend, seriesMarkers: { display: true } }, scales: { y: { min: -Math.ceil(bound * 10) / 10, max: Math.ceil(bound * 10) / 10 } } };
      if (chart.human.length) VP.chart("bias-human-" + chart.kind, { type: "bar", data: { labels, datasets: bars(chart.human) }, options: opts });
      VP.chart("bias-model-" + chart.kind, { type: "bar", data: { labels, datasets: bars(chart.model) }, options: opts });
    });
  }

  function selfTestPage() {
    const d = VP.data("self-data");
    if (!d) return;
    const sets = [{ label: "You", data: d.you, borderColor: VP.colour(1), backgroundColor: VP.colour(1, 0.15), ...VP.series(1, true) }];
    if (d.model) sets.push({ label: d.model_label, data: d.model, borderColor: VP.colour(0), backgroundColor: VP.colour(0, 0.12), ...VP.series(0, true) });
    VP.chart("self-radar", { type: "radar", data: { labels: d.labels, datasets: sets }, options: { plugins: { legend: markedLegend } } });
  }

  // A select that reloads the page with its value as a query parameter (e.g. the model page's run).
  document.querySelectorAll("select[data-navigate-param]").forEach((select) => {
    select.addEventListener("change", () => {
      const params = new URLSearchParams(location.search);
      params.set(select.dataset.navigateParam, select.value);
      location.search = params.toString();
    });
  });

  [leaderboardPage, modelPage, comparePage, alignmentPage, selfTestPage].forEach((init) => init());
})();
