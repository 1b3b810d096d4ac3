/* sitewatch dashboard: plain JavaScript over the JSON API (/docs lists it) and Leaflet. */
"use strict";

const SW = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const maps = {};  // the pages' Leaflet maps by name, for scripting the page (and its tests)

  async function api(path, options) {
    const res = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    const type = res.headers.get("content-type") || "";
    const body = type.includes("json") ? await res.json() : await res.text();
    if (!res.ok) {
      const detail = body && body.detail ? body.detail : res.statusText;
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  // a link only for http(s): any other scheme from the catalog (javascript:, data:, …) is text
  function webUrl(text) {
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  const fmt = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const siteUrl = (name) => "/sites/" + encodeURIComponent(name);
  const apiSite = (name) => "/api/sites/" + encodeURIComponent(name);

  function badge(state) {
    const text = { alert: "alert", normal: "normal", "warm-up": "warm-up", unmonitored: "not monitored" };
    return el("span", { class: "badge " + state, "data-state": state }, text[state] || state);
  }

  function sparkline(points) {
    const w = 120, h = 28, s = svg("svg", { width: w, height: h, class: "sparkline", viewBox: `0 0 ${w} ${h}` });
    const values = points.map((p) => p.estimate).filter((v) => v !== null);
    if (values.length < 2) return s;
    const max = Math.max(...values, 1), n = values.length;
    const xy = values.map((v, i) => `${(i / (n - 1)) * (w - 4) + 2},${h - 2 - (v / max) * (h - 4)}`);
    s.append(svg("polyline", { points: xy.join(" "), fill: "none", stroke: "#2b6cb0", "stroke-width": 1.5 }));
    return s;
  }

  // -- overview ---------------------------------------------------------------------------
  async function overview() {
    const sites = await api("/api/sites");
    const body = document.querySelector("#sites tbody");
    const select = document.querySelector("#upload select[name=site]");
    const map = L.map("map");
    const bounds = [];
    for (const site of sites) {
      const latest = site.latest
        ? el("span", {}, `${fmt(site.latest.estimate)} ${site.class || ""}`, el("br"),
            el("small", {}, site.latest.date || "undated"))
        : el("span", { class: "muted" }, "–");
      body.append(el("tr", { "data-site": site.name },
        el("td", {}, el("a", { href: siteUrl(site.name) }, site.name), el("br"),
          el("small", { class: "muted" }, `${site.kind === "geo" ? "map area" : "image frame"} · ${site.images} images`)),
        el("td", {}, latest),
        el("td", {}, sparkline(site.sparkline)),
        el("td", {}, badge(site.state))));
      select.append(el("option", { value: site.name }, site.name));
      if (site.aoi) {
        if (site.map_image) {
          L.tileLayer(`/api/images/${site.map_image}/map/{z}/{x}/{y}.webp`, { maxZoom: 22, maxNativeZoom: 20 }).addTo(map);
        }
        const layer = L.geoJSON(site.aoi, { style: { color: site.state === "alert" ? "#c53030" : "#d69e2e", weight: 2, fillOpacity: 0.05 } })
          .bindTooltip(site.name).on("click", () => (location.href = siteUrl(site.name))).addTo(map);
        bounds.push(layer.getBounds());
      }
    }
    if (!bounds.length) {
      document.getElementById("map").hidden = true;
      document.getElementById("map-note").textContent = "No site has a map area: sites in an image's own pixel frame are listed only.";
    } else map.fitBounds(bounds.reduce((a, b) => a.extend(b), L.latLngBounds(bounds[0].getSouthWest(), bounds[0].getNorthEast())), { padding: [20, 20] });
    document.body.dataset.ready = "overview";
    upload();
  }

  function upload() {
    const form = document.getElementById("upload");
    const out = document.getElementById("upload-result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      for (const [k, v] of [...data.entries()]) if (v === "" ) data.delete(k);
      out.textContent = "uploading…";
      out.className = "";
      try {
        const r = await api("/api/images", { method: "POST", body: data });
        out.textContent = `${r.status}: ${r.name} (${r.sha256.slice(0, 12)})` + (r.sites.length ? ` → ${r.sites.join(", ")}` : "");
        out.className = "ok";
      } catch (err) {
        out.textContent = "refused: " + err.message;
        out.className = "error";
      }
    });
  }

  // -- site page --------------------------------------------------------------------------
  async function site(name) {
    const r = await api(apiSite(name));
    const info = r.site_info;
    document.getElementById("state").replaceWith(badge(r.state));
    if (r.note) Object.assign(document.getElementById("note"), { hidden: false, textContent: r.note });
    const judg = document.getElementById("judgements");
    for (const [cls, j] of Object.entries(r.judgements)) {
      judg.append(el("p", { class: "judgement" }, el("strong", {}, cls + ": "), j.text,
        el("span", { class: "muted" }, ` (${j.confidence} confidence)`)));
    }
    // one chart per class, each from the model that counts it (a second model never hides the first)
    const charts = document.getElementById("chart"), several = r.classes.length > 1;
    for (const cls of r.classes.length ? r.classes : [null]) {
      const box = several ? el("div", { class: "chart-class", "data-class": cls }) : charts;
      if (several) {
        box.append(el("h3", {}, `${cls} · ${(r.detectors[cls] || {}).name || "unknown model"}`));
        charts.append(box);
      }
      chart(box, r, name, cls);
    }
    episodes(r);
    changes(r, name);
    images(r, name);
    verification(r);
    claims(r);
    claimForm(name);
    siteMap(document.getElementById("sitemap"), info, name);
    jobButton(name);
    period();
    document.body.dataset.ready = "site";
  }

  function chart(box, r, name, cls) {
    // every dated image is on the time axis; counted ones as dots, the rest as grey ticks
    const rows = cls ? r.series[cls].filter((x) => x.date && x.estimate !== null) : [];
    const counted = new Set(rows.map((x) => x.sha256));
    const marks = r.images.filter((im) => im.acquired_at && !counted.has(im.sha256));
    const W = 720, H = 280, m = { l: 44, r: 12, t: 12, b: 28 };
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img", "aria-label": `${cls || "image"} timeline` });
    box.append(s);
    if (!rows.length && !marks.length) {
      box.append(el("p", { class: "muted" }, "No dated images yet."));
      return;
    }
    const t = rows.map((x) => Date.parse(x.date)).concat(marks.map((im) => Date.parse(im.acquired_at.slice(0, 10))));
    const t0 = Math.min(...t), t1 = Math.max(...t), span = Math.max(t1 - t0, 864e5);
    const top = Math.max(...rows.map((x) => Math.max(x.high ?? 0, x.usual_high ?? 0, x.estimate)), 1) * 1.08;
    const X = (d) => m.l + 12 + ((Date.parse(d) - t0) / span) * (W - m.l - m.r - 24);
    const Y = (v) => H - m.b - (v / top) * (H - m.t - m.b);
    for (let i = 0; i <= 4; i++) {
      const v = (top / 4) * i;
      s.append(svg("line", { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v), class: "grid" }));
      const label = svg("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end", class: "axis" });
      label.textContent = Math.round(v);
      s.append(label);
    }
    for (const im of marks) {
      const day = im.acquired_at.slice(0, 10), x = X(day), y = H - m.b;
      const tick = svg("polygon", { points: `${x},${y - 9} ${x - 5},${y} ${x + 5},${y}`, class: "uncounted", "data-sha": im.sha256, "data-date": day, tabindex: 0 });
      const tip = svg("title", {});
      tip.textContent = `${day}: ${im.name}, not counted (${im.reason || "not monitored yet"})`;
      tick.append(tip);
      tick.addEventListener("click", () => (location.href = `${siteUrl(name)}/view?image=${im.sha256}`));
      s.append(tick);
    }
    if (!cls) return;
    for (const e of r.episodes[cls] || []) {
      const x0 = X(e.start), x1 = X(e.end || rows[rows.length - 1].date);
      s.append(svg("rect", { x: x0 - 3, y: m.t, width: Math.max(x1 - x0, 0) + 6, height: H - m.t - m.b, class: "episode" }));
    }
    const band = rows.filter((x) => x.usual_low !== null && x.usual_high !== null);
    if (band.length > 1) {
      const pts = band.map((x) => `${X(x.date)},${Y(x.usual_high)}`).concat(band.slice().reverse().map((x) => `${X(x.date)},${Y(x.usual_low)}`));
      s.append(svg("polygon", { points: pts.join(" "), class: "usual" }));
      s.append(svg("polyline", { points: band.map((x) => `${X(x.date)},${Y(x.baseline)}`).join(" "), class: "baseline" }));
    }
    for (const x of rows) {
      if (x.low !== null && x.high !== null) s.append(svg("line", { x1: X(x.date), x2: X(x.date), y1: Y(x.low), y2: Y(x.high), class: "interval" }));
      const dot = svg("circle", {
        cx: X(x.date), cy: Y(x.estimate), r: 5, tabindex: 0,
        class: "point " + (x.state || "") + (x.partial ? " partial" : ""), "data-sha": x.sha256, "data-date": x.date,
      });
      const tip = svg("title", {});
      tip.textContent = `${x.date}: ${fmt(x.estimate)} (${fmt(x.low)}–${fmt(x.high)}), counted ${x.count}${x.partial ? ", partial view" : ""}`;
      dot.append(tip);
      const open = () => (location.href = `${siteUrl(name)}/view?image=${x.sha256}`);
      dot.addEventListener("click", open);
      dot.addEventListener("keydown", (ev) => ev.key === "Enter" && open());
      s.append(dot);
    }
    const first = svg("text", { x: m.l, y: H - 8, class: "axis" });
    first.textContent = new Date(t0).toISOString().slice(0, 10);
    const last = svg("text", { x: W - m.r, y: H - 8, "text-anchor": "end", class: "axis" });
    last.textContent = new Date(t1).toISOString().slice(0, 10);
    s.append(first, last);
  }

  function episodes(r) {
    const body = document.querySelector("#episodes tbody");
    for (const [cls, eps] of Object.entries(r.episodes)) {
      for (const e of eps) {
        body.append(el("tr", {}, el("td", {}, cls), el("td", {}, e.start), el("td", {}, e.alarm),
          el("td", {}, e.ongoing ? "ongoing" : e.end), el("td", {}, fmt(e.baseline)), el("td", {}, fmt(e.peak)),
          el("td", {}, `${e.term} (${Math.round(e.likelihood * 100)} %)`), el("td", {}, e.observations)));
      }
    }
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No alert episodes.")));
  }

  function changes(r, name) {
    const body = document.querySelector("#changes tbody");
    for (const c of r.changes) {
      const href = `${siteUrl(name)}/view?image=${c.after_sha256}&compare=${c.before_sha256}`;
      body.append(el("tr", {}, el("td", {}, c.before_date || c.before), el("td", {}, c.after_date || c.after),
        el("td", {}, c.stayed), el("td", { class: "appeared" }, c.appeared), el("td", { class: "departed" }, c.departed),
        el("td", {}, el("a", { href }, "swipe"))));
    }
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No compared pairs yet.")));
  }

  function claims(r) {
    const box = document.getElementById("claims");
    for (const c of r.claims) {
      const window = c.from || c.to ? `, ${c.from || "…"} to ${c.to || "…"}` : "";
      const sources = c.sources.map((s) => {
        const who = s.outlet || s.author || s.origin;
        const label = `${s.kind.replace(/_/g, " ")}${s.published ? ", " + s.published : ""}; origin: ${s.origin}`;
        const href = s.url ? webUrl(s.url) : null;
        return el("li", {}, href ? el("a", { href, rel: "noopener noreferrer" }, who) : who,
          s.url && !href ? el("span", { class: "url-text" }, ` ${s.url}`) : null, ` (${label})`);
      });
      box.append(el("article", { class: "claim " + c.status, id: `claim-${c.id}`, "data-status": c.status },
        el("p", { class: "claim-text" }, `“${c.text}”`),
        el("p", {}, el("span", { class: "badge claim-status " + c.status }, c.label),
          c.expects ? ` expects ${c.expects}${c.class ? " of " + c.class : ""}${window}` : ""),
        el("p", {}, c.reasons.map((x) => x[0].toUpperCase() + x.slice(1) + ".").join(" ")),
        c.caveats.length ? el("p", { class: "muted" }, "Caveats: " + c.caveats.join("; ")) : null,
        c.recycled.length ? el("p", { class: "recycled" }, `${c.recycled.length} image(s) in the window reuse an earlier acquisition and were left out: `
          + c.recycled.map((x) => `${x.image} (${x.date}) is ${x.reuses} (${x.reuses_date || "undated"})`).join("; ")) : null,
        el("p", { class: "origins" }, `${c.origins} independent origin(s) among ${c.source_count} source(s)`),
        el("ul", { class: "sources" }, sources)));
    }
    if (!r.claims.length) box.append(el("p", { class: "muted" }, "No claims about this site yet (sitewatch claim add, or POST /api/claims)."));
  }

  // what the checks of the imagery itself found, as the report's Verification section says it
  function verification(r) {
    const box = document.getElementById("verification");
    for (const v of r.verification.checks) {
      box.append(el("section", { class: "check", id: `verify-${v.check}`, "data-findings": v.findings.length },
        el("h3", {}, v.title),
        el("p", {}, el("strong", {}, "Checked: "), v.checked, ` — ${v.images_checked} of ${v.images} image(s)`,
          v.methods.length ? ` (method ${v.methods.join(", ")})` : "", "."),
        el("p", {}, el("strong", {}, "Shows: "), v.shows),
        v.findings.length ? el("ul", { class: "findings" }, v.findings.map((f) =>
          el("li", { class: f.related_sha256 || f.contradicts ? "reused" : "found" }, `${f.image} (${f.date || "undated"}): `,
            el("strong", {}, f.verdict), ` — ${f.summary}`))) : null,
        v.unchecked.length ? el("p", { class: "muted" }, `Not checked: ${v.unchecked.join(", ")} (`, el("code", {}, v.command), ")") : null,
        el("p", {}, el("strong", {}, "Cannot show: "), v.cannot_show)));
    }
  }

  function claimForm(name) {
    const form = document.getElementById("claim-form"), out = document.getElementById("claim-result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = Object.fromEntries(new FormData(form).entries());
      const source = { kind: f.kind, outlet: f.outlet || null, date: f.date || null, url: f.url || null, origin: f.origin || null };
      const hasSource = source.outlet || source.url || source.origin || source.kind === "own_imagery";
      const record = { text: f.text, site: name, from: f.from || null, to: f.to || null, expects: f.expects || null, sources: hasSource ? [source] : [] };
      try {
        const c = await api("/api/claims", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(record) });
        out.textContent = `claim ${c.id}: ${c.label}`;
        out.className = "ok";
        setTimeout(() => (location.hash = `claim-${c.id}`, location.reload()), 600);
      } catch (err) {
        out.textContent = "refused: " + err.message;
        out.className = "error";
      }
    });
  }

  function images(r, name) {
    const body = document.querySelector("#images tbody");
    for (const im of r.images) {
      const reg = im.registration || (r.site_info.frame || { registered: {} }).registered[im.sha256];
      const regText = reg ? (reg.status === "ok" ? `${reg.method}, ${fmt(reg.rmse_px, 2)} px` : `failed: ${reg.reason}`) : "–";
      const href = im.source_url ? webUrl(im.source_url) : null;
      const source = href ? el("a", { href, rel: "noopener noreferrer" }, "source")
        : im.source_url ? el("span", { class: "url-text" }, im.source_url) : null;
      body.append(el("tr", { "data-sha": im.sha256 },
        el("td", {}, (im.acquired_at || "undated").slice(0, 10), im.date_is_illustrative ? el("small", { class: "muted" }, " (illustrative)") : null),
        el("td", {}, el("a", { href: `${siteUrl(name)}/view?image=${im.sha256}` }, im.name),
          el("br"), el("small", {}, el("a", { href: `/api/images/${im.sha256}/file`, class: "original" }, "original"),
            ` · sha256 ${im.sha256.slice(0, 12)}`),
          im.findings.map((f) => el("small", { class: "finding " + (f.related_sha256 || f.contradicts ? "reused" : f.check), title: f.summary },
            el("br"), `verify ${f.check}: ${f.verdict}` + (f.related_name ? ` (${f.related_name})` : "")))),
        el("td", {}, [im.provider, im.credit, im.licence].filter(Boolean).join(" · ") || "–", source ? " · " : "", source),
        el("td", {}, im.gsd_m ? `${fmt(im.gsd_m, 2)} m` : "–"),
        el("td", {}, regText),
        el("td", {}, im.used ? "yes" : el("span", { class: "muted" }, im.reason || "no"))));
    }
  }

  function frameMap(node, frame, options) {
    const map = L.map(node, Object.assign({ crs: L.CRS.Simple, fadeAnimation: false, minZoom: 0, maxZoom: frame.zmax + 3, attributionControl: false }, options || {}));
    const at = (p) => map.unproject(L.point(p[0], p[1]), frame.zmax);
    const bounds = L.latLngBounds(at([0, frame.height]), at([frame.width, 0]));
    map.fitBounds(bounds);
    return { map, at, bounds };
  }

  function frameTiles(name, sha, frame, options) {
    // tiles only where the frame is: none are asked for left of or above its origin
    const k = 2 ** frame.zmax;
    const bounds = L.latLngBounds([-frame.height / k, 0], [0, frame.width / k]);
    return L.tileLayer(`${apiSite(name)}/frame/${sha}/{z}/{x}/{y}.webp`,
      Object.assign({ maxNativeZoom: frame.zmax, maxZoom: frame.zmax + 3, minZoom: 0, noWrap: true, bounds, className: "frame-tiles" }, options || {}));
  }

  function area(geom, at) {
    const polys = geom.type === "MultiPolygon" ? geom.coordinates : [geom.coordinates];
    return L.featureGroup(polys.map((rings) => L.polygon(rings.map((ring) => ring.map(at)), { color: "#ecc94b", weight: 2, fill: false, interactive: false })));
  }

  function siteMap(node, info, name) {
    if (info.frame) {
      const { map, at } = frameMap(node, info.frame);
      frameTiles(name, info.frame.reference, info.frame).addTo(map);
      area(info.frame.area, at).addTo(map);
      for (const [sha, reg] of Object.entries(info.frame.registered)) {
        if (reg.footprint) L.polygon(reg.footprint.map(at), { color: "#63b3ed", weight: 1, fill: false }).bindTooltip(sha.slice(0, 12)).addTo(map);
      }
    } else if (info.aoi) {
      const map = L.map(node);
      if (info.map_image) L.tileLayer(`/api/images/${info.map_image}/map/{z}/{x}/{y}.webp`, { maxZoom: 22, maxNativeZoom: 20 }).addTo(map);
      map.fitBounds(L.geoJSON(info.aoi, { style: { color: "#ecc94b", fill: false } }).addTo(map).getBounds());
    } else {
      node.append(el("p", { class: "muted" }, "No frame yet: register the site."));
    }
  }

  function period() {
    // the report links carry the chosen period (?from=…&to=…), as `sitewatch report` does
    const start = document.getElementById("period-from"), end = document.getElementById("period-to");
    const links = [...document.querySelectorAll("a.report")];
    const bases = links.map((a) => a.getAttribute("href"));
    const update = () => {
      const q = new URLSearchParams();
      if (start.value) q.set("from", start.value);
      if (end.value) q.set("to", end.value);
      links.forEach((a, i) => a.setAttribute("href", bases[i] + (q.size ? `?${q}` : "")));
    };
    start.addEventListener("change", update);
    end.addEventListener("change", update);
  }

  function jobButton(name) {
    const button = document.getElementById("run-job");
    const bar = document.getElementById("job-progress");
    const out = document.getElementById("job-status");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        let job = await api(`${apiSite(name)}/jobs`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ stages: ["detect", "register", "monitor"] }) });
        bar.hidden = false;
        while (job.status === "queued" || job.status === "running") {
          out.textContent = `${job.status}${job.stage ? ": " + job.stage : ""} ${job.total ? job.done + "/" + job.total : ""}`;
          const stageIndex = Math.max(job.stages.indexOf(job.stage), 0);
          bar.value = (stageIndex + (job.total ? job.done / job.total : 0)) / job.stages.length;
          await new Promise((ok) => setTimeout(ok, 700));
          job = await api(`/api/jobs/${job.id}`);
        }
        bar.value = 1;
        out.textContent = `${job.status}: ${job.message}`;
        out.className = job.status === "done" ? "ok" : "error";
        if (job.status === "done") setTimeout(() => location.reload(), 800);
      } catch (err) {
        out.textContent = "refused: " + err.message;
        out.className = "error";
      } finally {
        button.disabled = false;
      }
    });
  }

  // -- pixel change (sitewatch change) in the viewer --------------------------------------
  // the report's outline colours: removed red, appeared green, altered orange
  const PIXEL_COLOURS = { removed: "#e63c32", appeared: "#28c83c", altered: "#ff9600" };
  const PIXEL_KINDS = ["removed", "appeared", "altered"];

  function areaText(v, unit) {
    if (v === null || v === undefined) return "–";
    if (unit === "m2") return v >= 1e4 ? `${(v / 1e4).toFixed(2)} ha` : `${Math.round(v)} m²`;
    return `${Math.round(v)} frame px`;
  }

  const pairName = (p) => `${p.before_date || p.before} → ${p.after_date || p.after}`;

  // the stored regions of the pair of dates the swipe shows, drawn in the frame, with a legend
  // in the map's corner that is also their text alternative and a selector of the stored pairs
  function pixelChange(map, at, name, stored, choose) {
    const layer = L.layerGroup().addTo(map);
    const box = document.getElementById("pixel-change-box"), toggle = document.getElementById("show-pixel-change");
    const legend = el("div", { class: "pixel-legend", id: "pixel-legend" });
    const control = L.control({ position: "bottomright" });
    control.onAdd = () => {
      L.DomEvent.disableClickPropagation(legend);
      L.DomEvent.disableScrollPropagation(legend);
      return legend;
    };
    box.hidden = !stored.length;
    if (stored.length) control.addTo(map);
    toggle.addEventListener("change", () => (toggle.checked ? layer.addTo(map) : map.removeLayer(layer)));
    // the selector is built once (redrawing it would take the keyboard focus away)
    const picker = el("select", { id: "pixel-pair", onchange: (e) => e.target.value && choose(stored[Number(e.target.value)]) },
      el("option", { value: "" }, "(choose one)"), stored.map((p, i) => el("option", { value: String(i) }, pairName(p))));
    const text = el("div", { "aria-live": "polite" });
    legend.append(text, el("label", {}, "Stored pair ", picker));
    let ticket = 0;

    function describe(answer, a, b) {
      const parts = [el("p", { class: "pixel-title" }, el("strong", {}, "Pixel change"),
        answer ? ` ${pairName(answer)} (${answer.method})` : "")];
      if (!answer) {
        parts.push(el("p", {}, a && b && a !== b ? "None stored between the two dates shown." : "Swipe a stored pair of dates to see it."));
        return parts;
      }
      parts.push(el("ul", { class: "pixel-kinds" }, PIXEL_KINDS.map((k) =>
        el("li", { "data-kind": k }, el("span", { class: "swatch " + k, "aria-hidden": "true" }), ` ${k} ${areaText(answer[k], answer.unit)}`))));
      const shown = answer.outlined < answer.regions ? `the ${answer.outlined} largest of ${answer.regions} regions outlined`
        : `${answer.regions} region${answer.regions === 1 ? "" : "s"} outlined`;
      parts.push(el("p", { class: "muted" }, `${shown}; where to look, not measurements (the method's accuracy is unmeasured).`));
      return parts;
    }

    return async function draw(a, b) {
      const mine = ++ticket, viewer = document.getElementById("viewer");
      delete viewer.dataset.pixelChange;
      const pair = stored.find((p) => (p.before_sha256 === a && p.after_sha256 === b) || (p.before_sha256 === b && p.after_sha256 === a));
      const answer = pair ? (await api(`${apiSite(name)}/pixel-change?before=${pair.before_sha256}&after=${pair.after_sha256}`)).pairs[0] : null;
      if (mine !== ticket) return; // the dates moved on while this was loading
      layer.clearLayers();
      for (const o of answer ? answer.outlines : []) {
        const polys = o.outline.type === "MultiPolygon" ? o.outline.coordinates : [o.outline.coordinates];
        L.polygon(polys.map((rings) => rings.map((ring) => ring.map(at))),
          { color: PIXEL_COLOURS[o.kind], weight: 2, fillOpacity: 0.12, className: "pixel-change " + o.kind })
          .bindTooltip(el("span", {}, `${o.kind}, ${areaText(o.area, answer.unit)}`)).addTo(layer);
      }
      text.replaceChildren(...describe(answer || null, a, b));
      picker.value = pair ? String(stored.indexOf(pair)) : "";
      viewer.dataset.pixelChange = layer.getLayers().length;
    };
  }

  // -- image viewer -----------------------------------------------------------------------
  async function viewer(name) {
    const r = await api(apiSite(name));
    const frame = r.site_info.frame;
    const note = document.getElementById("viewer-note");
    if (!frame) {
      note.textContent = `No site frame yet: run \`sitewatch register ${name}\`.`;
      return;
    }
    const params = new URLSearchParams(location.search);
    const usable = r.images.filter((im) => (frame.registered[im.sha256] || {}).status === "ok");
    const pick = document.getElementById("image"), other = document.getElementById("compare");
    for (const im of r.images) {
      const ok = usable.includes(im);
      const label = `${(im.acquired_at || "undated").slice(0, 10)} · ${im.name}` + (ok ? "" : " (not registered)");
      pick.append(el("option", { value: im.sha256, disabled: !ok }, label));
      other.append(el("option", { value: im.sha256, disabled: !ok }, label));
    }
    const first = params.get("image") || (usable[usable.length - 1] || {}).sha256 || frame.reference;
    pick.value = first;
    other.value = params.get("compare") || "";
    const { map, at } = frameMap("viewer", frame);
    map.createPane("before").style.zIndex = 250;
    const siteArea = area(frame.area, at).addTo(map);
    const boxes = L.layerGroup().addTo(map);
    const moved = L.layerGroup().addTo(map);
    const changesBox = document.getElementById("changes-box"), showChanges = document.getElementById("show-changes");
    const drawPixelChange = pixelChange(map, at, name, r.pixel_change, (p) => {
      pick.value = p.after_sha256;
      other.value = p.before_sha256;
      show();
    });
    let base = null, top = null, dets = null;
    const threshold = document.getElementById("threshold"), thresholdOut = document.getElementById("threshold-value");
    const ownThreshold = document.getElementById("threshold-own");
    // until the slider moves, each class is shown at the threshold it is counted at (its
    // model's own); a moved slider applies one value to every class
    let manual = false;
    const classBox = document.getElementById("classes"), count = document.getElementById("detection-count");
    const swipe = document.getElementById("swipe"), swipeBox = document.getElementById("swipe-box");

    function drawBoxes() {
      boxes.clearLayers();
      if (!dets) return;
      const t = Number(threshold.value);
      const own = dets.thresholds || {};
      const cut = (cls) => (manual ? t : own[cls] ?? dets.threshold ?? 0.5);
      thresholdOut.value = manual
        ? t.toFixed(2)
        : "each class's own" + (Object.keys(own).length ? " (" + Object.entries(own).map(([c, v]) => `${c} ${v.toFixed(2)}`).join(", ") + ")" : "");
      ownThreshold.disabled = !manual;
      threshold.setAttribute("aria-valuetext", manual ? t.toFixed(2) : thresholdOut.value);
      const on = new Set([...classBox.querySelectorAll("input:checked")].map((i) => i.value));
      let n = 0;
      for (const d of dets.detections) {
        if (d.score < cut(d.class) || !on.has(d.class)) continue;
        n++;
        L.polygon(d.frame.map(at), { color: "#f56565", weight: 1.5, fill: false, className: "detection" })
          .bindTooltip(`${d.class} ${d.score.toFixed(2)}`).addTo(boxes);
      }
      count.value = `${n} shown` + (dets.model ? ` · ${dets.model}` : " · not detected yet");
      document.getElementById("viewer").dataset.detections = n;
    }

    const divider = el("div", { class: "swipe-line", hidden: true });
    map.getContainer().append(divider);

    function clip() {
      const pane = map.getPane("before");
      divider.hidden = !top;
      if (!top) {
        pane.style.clip = "";
        return;
      }
      const nw = map.containerPointToLayerPoint([0, 0]), se = map.containerPointToLayerPoint(map.getSize());
      const split = map.getSize().x * Number(swipe.value);
      pane.style.clip = `rect(${nw.y}px, ${nw.x + split}px, ${se.y}px, ${nw.x}px)`;
      divider.style.left = `${split}px`;
    }

    async function drawChanges() {
      // what monitoring matched between the two dates: appeared green, departed red
      moved.clearLayers();
      changesBox.hidden = true;
      if (!other.value || other.value === pick.value) return;
      const c = await api(`${apiSite(name)}/changes?before=${other.value}&after=${pick.value}`);
      changesBox.hidden = !c.compared;
      const colour = { appeared: "#48bb78", departed: "#f56565" };
      for (const o of c.objects) {
        if (!colour[o.kind]) continue;
        const marker = L.circleMarker(at([o.x, o.y]), { radius: 14, color: colour[o.kind], weight: 3, fill: false, className: "change " + o.kind })
          .bindTooltip(`${o.class} ${o.kind} (between ${c.before.slice(0, 8)} and ${c.after.slice(0, 8)})`);
        if (o.chip) marker.bindPopup(`<img class="chip" alt="before | after" src="${apiSite(name)}/changes/${o.id}/chip.png">`);
        marker.addTo(moved);
      }
      document.getElementById("viewer").dataset.changes = moved.getLayers().length;
    }

    async function show() {
      if (base) map.removeLayer(base);
      base = frameTiles(name, pick.value, frame).addTo(map);
      if (top) map.removeLayer(top);
      top = null;
      swipeBox.hidden = !other.value;
      if (other.value) top = frameTiles(name, other.value, frame, { pane: "before" }).addTo(map);
      clip();
      await Promise.all([drawChanges(), drawPixelChange(other.value, pick.value)]);
      dets = await api(`${apiSite(name)}/images/${pick.value}/detections`);
      if (!threshold.dataset.set) {
        threshold.value = dets.threshold ?? 0.5;
        threshold.dataset.set = "1";
      }
      classBox.replaceChildren(...dets.classes.map((c) => el("label", {}, el("input", { type: "checkbox", value: c, checked: true, onchange: drawBoxes }), " " + c)));
      drawBoxes();
      const q = new URLSearchParams({ image: pick.value });
      if (other.value) q.set("compare", other.value);
      history.replaceState(null, "", `?${q}`);
      note.textContent = other.value
        ? "Left of the handle: the compared date; right: the selected date, with its detections. Both are resampled into the site frame."
        : "The selected date resampled into the site frame (the reference image's pixels); transparent where it saw nothing.";
      document.getElementById("viewer").dataset.image = pick.value;
    }

    pick.addEventListener("change", show);
    other.addEventListener("change", show);
    threshold.addEventListener("input", () => {
      manual = true;
      drawBoxes();
    });
    ownThreshold.addEventListener("click", () => {
      manual = false;
      threshold.value = dets?.threshold ?? 0.5;
      drawBoxes();
      threshold.focus();
    });
    swipe.addEventListener("input", clip);
    map.on("move zoom resize", clip);
    showChanges.addEventListener("change", () => (showChanges.checked ? moved.addTo(map) : map.removeLayer(moved)));
    document.getElementById("show-area").addEventListener("change", (e) => (e.target.checked ? siteArea.addTo(map) : map.removeLayer(siteArea)));
    maps.viewer = map;
    shadowTool(map, at, name, frame, pick);
    await show();
    document.body.dataset.ready = "viewer";
  }

  // -- the shadow tool: mark a base and its shadow's tip, check them against the sun -------
  function shadowTool(map, at, name, frame, pick) {
    const button = document.getElementById("shadow-tool"), panel = document.getElementById("shadow-panel");
    const step = document.getElementById("shadow-step"), result = document.getElementById("shadow-result");
    const check = document.getElementById("shadow-check"), viewer = document.getElementById("viewer");
    const drawn = L.layerGroup().addTo(map);
    let points = [], on = false;
    const toFrame = (latlng) => { const p = map.project(latlng, frame.zmax); return [p.x, p.y]; };

    function reset() {
      points = [];
      drawn.clearLayers();
      check.disabled = true;
      step.textContent = "Click the base of an object, then the tip of its shadow.";
      delete viewer.dataset.shadow;
    }
    function toggle(state) {
      on = state;
      button.setAttribute("aria-pressed", String(on));
      panel.hidden = !on;
      map.getContainer().classList.toggle("marking", on);
      if (!on) { reset(); result.textContent = ""; }
    }
    button.addEventListener("click", () => toggle(!on));
    document.getElementById("shadow-clear").addEventListener("click", () => { reset(); result.textContent = ""; });
    pick.addEventListener("change", reset);  // marks belong to the image they were made on
    map.on("click", (e) => {
      if (!on || points.length >= 2) return;
      points.push(toFrame(e.latlng));
      L.circleMarker(at(points[points.length - 1]), { radius: 5, color: points.length === 1 ? "#f6e05e" : "#ed8936", weight: 2, className: "shadow-mark" }).addTo(drawn);
      if (points.length === 2) {
        L.polyline(points.map(at), { color: "#ed8936", weight: 2, dashArray: "4 3", className: "shadow-line" }).addTo(drawn);
        check.disabled = false;
        step.textContent = "Shadow marked: check it against the image's own claimed time (leave the time empty; stored with the image), or give another to ask what if.";
      } else {
        step.textContent = "Base marked: now click the tip of its shadow.";
      }
      viewer.dataset.shadow = points.length;
    });
    panel.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (points.length !== 2) return;
      const time = document.getElementById("shadow-time").value.trim();
      const height = document.getElementById("shadow-height").value;
      const body = { base: points[0], tip: points[1], time: time || null, height_m: height ? Number(height) : null };
      result.className = "";
      delete result.dataset.verdict;
      result.textContent = "checking…";
      try {
        const answer = await api(`${apiSite(name)}/images/${pick.value}/shadow`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        const c = answer.checks.find((x) => x.check === "shadow") || answer.checks[0];
        const m = c.measured;
        const sun = c.computed ? ` Sun then: azimuth ${fmt(c.computed.azimuth_deg, 1)}°, elevation ${fmt(c.computed.elevation_deg, 1)}°.` : "";
        const fits = c.fits.length ? ` Fits ${c.fits.length} span(s), first ${c.fits[0].start.replace("T", " ")}.` : "";
        result.textContent = `${c.verdict}: ${c.reason}. Shadow points to the sun at azimuth ${fmt(m.azimuth_deg, 1)}° ± ${fmt(m.azimuth_sigma_deg, 1)}°`
          + (m.elevation_deg !== null ? `, elevation ${fmt(m.elevation_deg, 1)}° ± ${fmt(m.elevation_sigma_deg, 1)}°` : "") + `.${sun}${fits} ` + (answer.stored ? "Stored with the image." : answer.note[0].toUpperCase() + answer.note.slice(1) + ".");
        result.className = c.verdict === "consistent" ? "ok" : c.verdict === "inconsistent" ? "inconsistent" : "";
        result.dataset.verdict = c.verdict;
      } catch (err) {
        result.textContent = "refused: " + err.message;
        result.className = "error";
        result.dataset.verdict = "refused";
      }
    });
  }

  return { api, overview, site, viewer, maps };
})();

// each page names what fills it (<body data-page data-site>): no inline script, for the CSP
document.addEventListener("DOMContentLoaded", () => {
  const { page, site } = document.body.dataset;
  const start = { overview: SW.overview, site: SW.site, viewer: SW.viewer }[page];
  if (start) start(site);
});
