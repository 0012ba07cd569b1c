// Live refresh of the study dashboard from its JSON feed (the page works without it).
(function () {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const feed = root.dataset.feed;

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function render(data) {
    for (const [name, value] of Object.entries(data.counts)) {
      const el = root.querySelector(`[data-count="${name}"]`);
      if (el) el.textContent = value;
    }
    for (const [name, value] of Object.entries(data.entry || {})) {
      const el = root.querySelector(`[data-entry="${name}"]`);
      if (el) el.textContent = value;
    }
    const median = data.median_completion_seconds;
    document.getElementById("median-completion").textContent = median === null ? "–" : `${Math.round(median)} s`;
    const body = document.getElementById("group-rows");
    body.replaceChildren(...data.groups.map((group) => {
      const tr = document.createElement("tr");
      tr.append(cell(group.name), cell(group.items), cell(group.completed), cell(group.holding_places), cell(group.target));
      const td = document.createElement("td");
      const bar = document.createElement("div");
      bar.className = "fill-bar";
      bar.title = `${group.percent}%`;
      const fill = document.createElement("span");
      fill.style.width = `${group.percent}%`;
      bar.append(fill);
      const text = document.createElement("span");
      text.className = "fill-text";
      text.textContent = `${group.holding_places}/${group.target} (${group.percent} %)`;
      td.append(bar, " ", text);
      tr.append(td);
      return tr;
    }));
    const stamp = document.getElementById("generated-at");
    stamp.textContent = data.generated_at_display;
    stamp.setAttribute("datetime", data.generated_at);
  }

  async function refresh() {
    try {
      const response = await fetch(feed, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) render(await response.json());
    } catch (error) {
      // Network hiccup: keep the last numbers and try again on the next tick.
    }
  }

  setInterval(refresh, 15000);
})();
