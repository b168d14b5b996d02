// The console's own script: small behaviours htmx does not cover (CSP allows no inline script).
"use strict";

function autosubmit(root) {
  root.querySelectorAll("select.autosubmit").forEach(function (select) {
    if (select.dataset.bound) return;
    select.dataset.bound = "1";
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });
}

// Bar widths come from data attributes (CSP allows no inline style attributes).
function sizeBars(root) {
  root.querySelectorAll(".bar[data-width]").forEach(function (bar) {
    bar.style.width = bar.dataset.width + "%";
  });
}

// Charts: a `<div data-chart="ID">` is drawn with uPlot from the JSON in `<script id="ID"
// type="application/json">` ({"kind": "lines"|"bars", "x": [unix seconds], "series":
// [{"label", "values", "color"}]}); JSON data blocks are not scripts, so CSP allows them.
function drawCharts(root) {
  if (typeof uPlot === "undefined") return;
  root.querySelectorAll("[data-chart]").forEach(function (el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    var bars = spec.kind === "bars";
    var series = [{}].concat(spec.series.map(function (s) {
      return {
        label: s.label,
        stroke: s.color,
        width: bars ? 1 : 2,
        fill: bars ? s.color : s.color + "14",
        paths: bars ? uPlot.paths.bars({ size: [0.7, 28] }) : undefined,
        points: { show: !bars && spec.x.length < 40, size: 4 },
      };
    }));
    var options = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [
        { stroke: "#6b7685", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e3e6eb" } },
        { stroke: "#6b7685", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e3e6eb" }, size: 48 },
      ],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var plot = new uPlot(options, data, el);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 });
    });
  });
}

function enhance(root) { autosubmit(root); sizeBars(root); drawCharts(root); }

document.addEventListener("DOMContentLoaded", function () { enhance(document); });
document.addEventListener("htmx:load", function (event) { enhance(event.target); });
