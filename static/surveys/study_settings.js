// The power figure beside the group-size target follows what the researcher types (the page works without it).
(function () {
  const figure = document.getElementById("power-figure");
  if (!figure) return;
  const input = document.getElementById(figure.getAttribute("for"));
  const text = figure.querySelector("[data-power-text]");
  const table = JSON.parse(figure.dataset.powerTable);
  const maxN = Math.max(...Object.keys(table).map(Number));
  function update() {
    const n = Number.parseInt(input.value, 10);
    text.textContent = "";
    if (!Number.isFinite(n) || n < 5) {
      text.textContent = "Power needs at least 5 raters";
      return;
    }
    // The table ends where the power shows as 1.00 (or at its largest n).
    const power = table[Math.min(n, maxN)];
    const strong = document.createElement("strong");
    strong.textContent = (n > maxN && power < 1 ? "at least " : "") + power.toFixed(2);
    text.append(`With ${n} raters, a correlation of ρ = ${figure.dataset.r} is detected with power `, strong);
  }
  input.addEventListener("input", update);
})();
