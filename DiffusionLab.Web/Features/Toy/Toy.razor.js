// DiffusionLab's 2-D lab renderer. The Blazor page owns the controls and hands this script the
// run description (a ToySpec as JSON); this script talks to /hubs/toy (MessagePack) itself for
// the pictures and the runs, and draws on one canvas at the display's frame rate:
//   the density p_t as a heat map, the exact posterior as contour lines, score arrows,
//   the particles (interpolated between the server's steps) with optional trails, and the
//   components' centres as handles the student can drag, add (click) and remove (right-click).
// Point sets and grids arrive as little-endian float32 bytes and are read as Float32Arrays.
// The page imports this module (CSS-and-JS isolation: only the 2-D lab loads it) and calls toyLab's methods.
import { connect as connectTo } from '../../js/hub-connection.js';

export const toyLab = (() => {
  const palette = buildPalette([
    [0.00, [13, 17, 38]], [0.18, [38, 30, 92]], [0.38, [104, 38, 130]], [0.58, [186, 55, 112]],
    [0.78, [246, 122, 72]], [1.00, [252, 236, 160]],
  ]);
  const colours = {
    background: '#0d1126', particle: 'rgba(255,255,255,0.9)', trail: 'rgba(150,205,255,0.18)',
    posterior: '#5ef2c4', arrow: 'rgba(255,255,255,0.55)', handle: '#ffffff', handleSelected: '#ffd166',
    line: 'rgba(94,242,196,0.85)', single: '#ffd166',
  };
  const trailLength = 10;
  // Trails of every particle would paint the plane solid: a fixed sample of them reads better.
  const trailedParticles = 200;

  let canvas = null, context = null, readout = null, dotnet = null;
  let spec = null, specJson = null, scene = null, heat = null, contours = null, arrows = null;
  let mode = 'forward';             // 'forward': diffused data at time t; 'run': a solver's particles
  let time = 0, alphaBars = null;
  let options = { arrows: false, trails: true, posterior: true };
  let shown = null, from = null, to = null, arrivedAt = 0, interval = 50, history = [];
  let run = null, frames = 0, lastStep = -1, total = 0, runT = 1, distance = NaN, exactFloor = NaN, priorFloor = NaN, distances = [];
  // A sequential Monte Carlo run's particle weights (times N) and its effective sample size per step, [step, ESS/N].
  let weights = null, ess = NaN, esses = [];
  let playing = null, sceneRequest = null, sceneQueued = false, marginalRequest = null, marginalQueued = false;
  let drag = null, selected = -1, dirty = true;

  function buildPalette(stops) {
    const table = new Uint8ClampedArray(256 * 3);
    for (let i = 0; i < 256; i++) {
      const v = i / 255;
      let k = 0;
      while (k < stops.length - 2 && v > stops[k + 1][0]) k++;
      const [a, ca] = stops[k], [b, cb] = stops[k + 1];
      const f = Math.min(1, Math.max(0, (v - a) / (b - a)));
      for (let c = 0; c < 3; c++) table[i * 3 + c] = ca[c] + (cb[c] - ca[c]) * f;
    }
    return table;
  }

  function floats(bytes) {
    if (!bytes || bytes.length === 0) return new Float32Array(0);
    const copy = new Uint8Array(bytes); // aligned copy: the decoder may hand out a view at an odd offset
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }

  const connect = () => connectTo('hubs/toy');

  // ---- geometry -------------------------------------------------------------------------------
  const extent = () => (scene ? scene.Extent : 5);
  function toScreen(x, y) {
    const L = extent();
    return [(x + L) / (2 * L) * canvas.width, (L - y) / (2 * L) * canvas.height];
  }
  function toWorld(px, py) {
    const L = extent();
    return [px / canvas.width * 2 * L - L, L - py / canvas.height * 2 * L];
  }
  function pointer(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * canvas.width / rect.width, (event.clientY - rect.top) * canvas.height / rect.height];
  }
  const scale = () => canvas.width / (2 * extent());

  // ---- pictures from the hub ------------------------------------------------------------------
  async function requestScene() {
    if (!spec) return;
    if (sceneRequest) { sceneQueued = true; return; }
    const json = JSON.stringify(spec);
    try {
      const hub = await connect();
      sceneRequest = hub.invoke('Scene', json, mode === 'forward' ? time : 0);
      const answer = await sceneRequest;
      if (answer.Problems && answer.Problems.length) return;
      scene = answer;
      alphaBars = answer.AlphaBars;
      scene.data = floats(answer.Data);
      scene.noise = floats(answer.Noise);
      heat = heatImage(floats(answer.Density), answer.Resolution);
      contours = answer.Posterior && answer.Posterior.length ? contourPath(floats(answer.Posterior), answer.Resolution) : null;
      arrows = floats(answer.Arrows);
      if (mode === 'forward') shown = forwardPositions();
      canvas.dataset.scenes = String((Number(canvas.dataset.scenes) || 0) + 1);
      dirty = true;
    } catch (err) {
      console.warn('scene request failed', err);
    } finally {
      sceneRequest = null;
      if (sceneQueued) { sceneQueued = false; requestScene(); }
    }
  }

  // p_t changes with t: ask for it at most one request at a time, newest t wins.
  async function requestMarginal() {
    if (!spec || !scene) return;
    if (marginalRequest) { marginalQueued = true; return; }
    const askedT = mode === 'forward' ? time : (options.followT ? runT : 0);
    try {
      const hub = await connect();
      marginalRequest = hub.invoke('Marginal', JSON.stringify(spec), askedT);
      const answer = await marginalRequest;
      if (answer.Problems && answer.Problems.length) return;
      heat = heatImage(floats(answer.Density), scene.Resolution);
      arrows = floats(answer.Arrows);
      dirty = true;
    } catch (err) {
      console.warn('density request failed', err);
    } finally {
      marginalRequest = null;
      if (marginalQueued) { marginalQueued = false; requestMarginal(); }
    }
  }

  function heatImage(density, resolution) {
    let max = 0;
    for (const v of density) if (v > max) max = v;
    const image = new ImageData(resolution, resolution);
    // Square root keeps the tails visible next to sharp peaks.
    const top = Math.sqrt(max) || 1;
    for (let row = 0; row < resolution; row++)
      for (let col = 0; col < resolution; col++) {
        const v = Math.sqrt(density[row * resolution + col]) / top;
        const index = Math.max(0, Math.min(255, Math.round(v * 255))) * 3;
        const pixel = ((resolution - 1 - row) * resolution + col) * 4; // row 0 is the bottom of the plane
        image.data[pixel] = palette[index];
        image.data[pixel + 1] = palette[index + 1];
        image.data[pixel + 2] = palette[index + 2];
        image.data[pixel + 3] = 255;
      }
    const offscreen = document.createElement('canvas');
    offscreen.width = offscreen.height = resolution;
    offscreen.getContext('2d').putImageData(image, 0, 0);
    return offscreen;
  }

  // Marching squares on the posterior density at a few fractions of its peak, in world coordinates.
  function contourPath(density, resolution) {
    let max = 0;
    for (const v of density) if (v > max) max = v;
    const L = scene.Extent, cell = 2 * L / (resolution - 1);
    const segments = [];
    for (const level of [0.03, 0.15, 0.4, 0.75].map(f => f * max)) {
      for (let row = 0; row < resolution - 1; row++)
        for (let col = 0; col < resolution - 1; col++) {
          const a = density[row * resolution + col], b = density[row * resolution + col + 1];
          const c = density[(row + 1) * resolution + col + 1], d = density[(row + 1) * resolution + col];
          const code = (a > level ? 1 : 0) | (b > level ? 2 : 0) | (c > level ? 4 : 0) | (d > level ? 8 : 0);
          if (code === 0 || code === 15) continue;
          const x0 = -L + col * cell, y0 = -L + row * cell;
          const lerp = (p, q) => (level - p) / (q - p);
          const bottom = [x0 + lerp(a, b) * cell, y0], right = [x0 + cell, y0 + lerp(b, c) * cell];
          const top = [x0 + lerp(d, c) * cell, y0 + cell], left = [x0, y0 + lerp(a, d) * cell];
          const pairs = {
            1: [[left, bottom]], 2: [[bottom, right]], 3: [[left, right]], 4: [[right, top]], 5: [[left, top], [bottom, right]],
            6: [[bottom, top]], 7: [[left, top]], 8: [[top, left]], 9: [[top, bottom]], 10: [[top, right], [left, bottom]],
            11: [[top, right]], 12: [[right, left]], 13: [[right, bottom]], 14: [[bottom, left]],
          }[code];
          for (const pair of pairs) segments.push(pair);
        }
    }
    return segments;
  }

  // ---- particles -------------------------------------------------------------------------------
  function alphaBarAt(t) {
    if (!alphaBars || t <= 0) return 1;
    const steps = alphaBars.length;
    const step = Math.min(steps - 1, Math.ceil(Math.min(1, t) * steps) - 1);
    return step < 0 ? 1 : alphaBars[step];
  }

  function forwardPositions() {
    if (!scene || !scene.data) return null;
    const a = alphaBarAt(time), s = Math.sqrt(a), n = Math.sqrt(1 - a);
    const out = new Float32Array(scene.data.length);
    for (let i = 0; i < out.length; i++) out[i] = s * scene.data[i] + n * scene.noise[i];
    return out;
  }

  function interpolate(now) {
    if (mode !== 'run' || !to) return;
    if (!from || from.length !== to.length) { shown = to; return; }
    // The animation frame's timestamp can precede a frame's arrival: clamp, never extrapolate backwards.
    const f = Math.max(0, Math.min(1, (now - arrivedAt) / Math.max(1, interval)));
    if (!shown || shown.length !== to.length || shown === to || shown === from) shown = new Float32Array(to.length);
    for (let i = 0; i < to.length; i++) shown[i] = from[i] + (to[i] - from[i]) * f;
    if (f < 1) dirty = true;
  }

  // ---- drawing ----------------------------------------------------------------------------------
  function draw() {
    const g = context, w = canvas.width, h = canvas.height;
    g.fillStyle = colours.background;
    g.fillRect(0, 0, w, h);
    if (heat) {
      g.imageSmoothingEnabled = true;
      g.imageSmoothingQuality = 'high';
      g.drawImage(heat, 0, 0, w, h);
    }
    drawAxes(g);
    if (spec && spec.measurement && spec.measurement.kind !== 'none') drawMeasurementLine(g);
    if (options.arrows && arrows) drawArrows(g);
    if (options.trails && mode === 'run') drawTrails(g);
    drawParticles(g);
    // The truth goes on top, so the particles can be judged against it.
    if (options.posterior && contours) drawContours(g);
    drawHandles(g);
  }

  function drawAxes(g) {
    const L = extent();
    g.strokeStyle = 'rgba(255,255,255,0.10)';
    g.lineWidth = 1;
    g.beginPath();
    for (let v = Math.ceil(-L); v <= L; v++) {
      const [x] = toScreen(v, 0), [, y] = toScreen(0, v);
      g.moveTo(x, 0); g.lineTo(x, canvas.height);
      g.moveTo(0, y); g.lineTo(canvas.width, y);
    }
    g.stroke();
    g.strokeStyle = 'rgba(255,255,255,0.28)';
    g.beginPath();
    const [ox, oy] = toScreen(0, 0);
    g.moveTo(ox, 0); g.lineTo(ox, canvas.height);
    g.moveTo(0, oy); g.lineTo(canvas.width, oy);
    g.stroke();
  }

  // The set of points that agree exactly with y: a₁x₁ + a₂x₂ = y.
  function drawMeasurementLine(g) {
    const m = spec.measurement;
    const a1 = m.kind === 'observeX1' ? 1 : m.a1, a2 = m.kind === 'observeX1' ? 0 : m.a2;
    const norm = Math.hypot(a1, a2);
    if (!(norm > 0)) return;
    const L = extent() * 2, px = a1 * m.y / (norm * norm), py = a2 * m.y / (norm * norm);
    const dx = -a2 / norm, dy = a1 / norm;
    const [x0, y0] = toScreen(px - dx * L, py - dy * L), [x1, y1] = toScreen(px + dx * L, py + dy * L);
    g.save();
    g.setLineDash([8 * devicePixelRatio, 6 * devicePixelRatio]);
    g.strokeStyle = colours.line;
    g.lineWidth = 1.5 * devicePixelRatio;
    g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke();
    g.restore();
  }

  function drawContours(g) {
    g.save();
    g.strokeStyle = colours.posterior;
    g.lineWidth = 2 * devicePixelRatio;
    g.shadowColor = 'rgba(0,0,0,0.8)';
    g.shadowBlur = 4;
    g.beginPath();
    for (const [[ax, ay], [bx, by]] of contours) {
      const [sx, sy] = toScreen(ax, ay), [ex, ey] = toScreen(bx, by);
      g.moveTo(sx, sy); g.lineTo(ex, ey);
    }
    g.stroke();
    g.restore();
  }

  function drawArrows(g) {
    // Lengths are compressed (log) so that both the gentle far field and the steep wells read.
    const cell = 2 * extent() / Math.sqrt(arrows.length / 4) * scale();
    g.save();
    g.strokeStyle = colours.arrow;
    g.fillStyle = colours.arrow;
    g.lineWidth = 1.2 * devicePixelRatio;
    g.beginPath();
    for (let i = 0; i < arrows.length; i += 4) {
      const [x, y] = toScreen(arrows[i], arrows[i + 1]);
      const sx = arrows[i + 2], sy = arrows[i + 3], m = Math.hypot(sx, sy);
      if (!(m > 1e-9)) continue;
      const length = cell * 0.85 * Math.min(1, Math.log1p(m) / 3 + 0.15);
      const ux = sx / m, uy = -sy / m;
      const ex = x + ux * length, ey = y + uy * length, head = Math.min(6 * devicePixelRatio, length * 0.4);
      g.moveTo(x, y); g.lineTo(ex, ey);
      g.moveTo(ex, ey); g.lineTo(ex - ux * head - uy * head * 0.5, ey - uy * head + ux * head * 0.5);
      g.moveTo(ex, ey); g.lineTo(ex - ux * head + uy * head * 0.5, ey - uy * head - ux * head * 0.5);
    }
    g.stroke();
    g.restore();
  }

  function drawTrails(g) {
    if (history.length < 2) return;
    const single = history[0].length <= 8;
    g.save();
    g.strokeStyle = single ? colours.single : colours.trail;
    g.lineWidth = (single ? 2.2 : 0.8) * devicePixelRatio;
    g.beginPath();
    const count = history[history.length - 1].length;
    const stride = Math.max(1, Math.floor(count / 2 / trailedParticles)) * 2;
    for (let i = 0; i < count; i += stride) {
      let first = true;
      for (const positions of history) {
        if (positions.length !== count) continue;
        const [x, y] = toScreen(positions[i], positions[i + 1]);
        if (first) { g.moveTo(x, y); first = false; } else g.lineTo(x, y);
      }
      if (shown && shown.length === count) {
        const [x, y] = toScreen(shown[i], shown[i + 1]);
        g.lineTo(x, y);
      }
    }
    g.stroke();
    g.restore();
  }

  function drawParticles(g) {
    if (!shown) return;
    const single = shown.length <= 8;
    if (single) {
      for (let i = 0; i < shown.length; i += 2) {
        const [x, y] = toScreen(shown[i], shown[i + 1]);
        g.fillStyle = colours.single;
        g.strokeStyle = '#1b1e2b';
        g.lineWidth = 2 * devicePixelRatio;
        g.beginPath(); g.arc(x, y, 7 * devicePixelRatio, 0, 2 * Math.PI); g.fill(); g.stroke();
      }
      return;
    }
    if (weights && weights.length * 2 === shown.length) { drawWeightedParticles(g); return; }
    // A dark rim under every particle keeps it visible over the bright heat map and the trails.
    const size = (shown.length > 2000 ? 2.2 : 2.8) * devicePixelRatio, half = size / 2, rim = devicePixelRatio;
    g.fillStyle = 'rgba(10,12,30,0.55)';
    for (let i = 0; i < shown.length; i += 2) {
      const [x, y] = toScreen(shown[i], shown[i + 1]);
      g.fillRect(x - half - rim, y - half - rim, size + 2 * rim, size + 2 * rim);
    }
    g.fillStyle = colours.particle;
    for (let i = 0; i < shown.length; i += 2) {
      const [x, y] = toScreen(shown[i], shown[i + 1]);
      g.fillRect(x - half, y - half, size, size);
    }
  }

  // A weighted particle system: each particle's area grows with its weight (an average particle has the usual
  // size) and light particles fade, so the particles that carry the posterior stand out and the dropped ones vanish.
  function drawWeightedParticles(g) {
    const base = 2.8 * devicePixelRatio, rim = devicePixelRatio;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!(w > 0)) continue;
      const size = base * Math.min(4, Math.max(0.6, Math.sqrt(w))), half = size / 2;
      const [x, y] = toScreen(shown[2 * i], shown[2 * i + 1]);
      g.globalAlpha = Math.min(1, 0.25 + 0.75 * w);
      g.fillStyle = 'rgba(10,12,30,0.55)';
      g.fillRect(x - half - rim, y - half - rim, size + 2 * rim, size + 2 * rim);
      g.fillStyle = colours.particle;
      g.fillRect(x - half, y - half, size, size);
    }
    g.globalAlpha = 1;
  }

  function drawHandles(g) {
    if (!spec || mode === 'run') return;
    const s = scale();
    spec.components.forEach((c, i) => {
      const [x, y] = toScreen(c.x, c.y);
      g.save();
      g.strokeStyle = i === selected ? colours.handleSelected : 'rgba(255,255,255,0.75)';
      g.lineWidth = (i === selected ? 2.2 : 1.3) * devicePixelRatio;
      g.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
      g.beginPath(); g.arc(x, y, Math.max(4, c.standardDeviation * s), 0, 2 * Math.PI); g.stroke();
      g.setLineDash([]);
      g.fillStyle = i === selected ? colours.handleSelected : colours.handle;
      g.beginPath(); g.arc(x, y, 4 * devicePixelRatio, 0, 2 * Math.PI); g.fill();
      g.restore();
    });
  }

  // ---- readout (distance figure and its chart), owned by this script ---------------------------
  function format(v) { return Number.isFinite(v) ? v.toFixed(3) : '–'; }

  function renderReadout() {
    if (!readout) return;
    const target = spec && spec.measurement && spec.measurement.kind !== 'none' ? 'exact posterior' : 'exact prior';
    const stepText = mode === 'run' && lastStep >= 0 ? `step ${lastStep + 1} of ${total} · t = ${runT.toFixed(2)}` : (mode === 'forward' ? `forward process · t = ${time.toFixed(2)}` : '');
    readout.querySelector('[data-role=step]').textContent = stepText;
    const value = readout.querySelector('#toy-distance');
    value.textContent = format(distance);
    value.dataset.value = Number.isFinite(distance) ? String(distance) : '';
    readout.querySelector('[data-role=target]').textContent = `sliced Wasserstein distance between the particles and ${target} samples`;
    readout.querySelector('[data-role=floors]').innerHTML = Number.isFinite(exactFloor)
      ? `<span class="floor exact">exact samples score ${format(exactFloor)}</span>` +
        (Number.isFinite(priorFloor) ? `<span class="floor prior">ignoring y scores ${format(priorFloor)}</span>` : '')
      : '';
    const essLine = readout.querySelector('[data-role=ess]');
    if (essLine) {
      essLine.hidden = !Number.isFinite(ess);
      essLine.textContent = Number.isFinite(ess) ? `effective sample size ${ess.toFixed(1)} of ${weights ? weights.length : '–'} particles (orange line: ESS / N per step)` : '';
      essLine.dataset.value = Number.isFinite(ess) ? String(ess) : '';
    }
    drawChart(readout.querySelector('canvas'));
  }

  function drawChart(chart) {
    if (!chart) return;
    const g = chart.getContext('2d'), w = chart.width, h = chart.height, pad = 6 * devicePixelRatio;
    g.clearRect(0, 0, w, h);
    if (distances.length === 0) return;
    const top = Math.max(...distances.map(d => d[1]), Number.isFinite(priorFloor) ? priorFloor : 0) * 1.1 || 1;
    const x = step => pad + (w - 2 * pad) * step / Math.max(1, total - 1);
    const y = v => h - pad - (h - 2 * pad) * v / top;
    const line = (v, colour) => {
      if (!Number.isFinite(v)) return;
      g.strokeStyle = colour; g.setLineDash([5, 4]); g.lineWidth = devicePixelRatio;
      g.beginPath(); g.moveTo(pad, y(v)); g.lineTo(w - pad, y(v)); g.stroke(); g.setLineDash([]);
    };
    line(exactFloor, '#0c8a5f');
    line(priorFloor, '#d6336c');
    g.strokeStyle = '#3b4bd8'; g.lineWidth = 2 * devicePixelRatio;
    g.beginPath();
    distances.forEach(([step, v], i) => (i === 0 ? g.moveTo(x(step), y(v)) : g.lineTo(x(step), y(v))));
    g.stroke();
    if (esses.length > 0) {
      // ESS / N on its own scale, 0 at the bottom and 1 at the top of the chart.
      g.strokeStyle = '#e8590c'; g.lineWidth = 1.5 * devicePixelRatio;
      g.beginPath();
      esses.forEach(([step, v], i) => {
        const py = h - pad - (h - 2 * pad) * v;
        if (i === 0) g.moveTo(x(step), py); else g.lineTo(x(step), py);
      });
      g.stroke();
    }
  }

  // ---- runs -------------------------------------------------------------------------------------
  function onFrame(frame) {
    if (frame.Error) { finish(frame.Error); return; }
    const positions = floats(frame.Positions);
    frames++;
    from = shown && shown.length === positions.length ? Float32Array.from(shown) : positions;
    to = positions;
    arrivedAt = performance.now();
    interval = frame.IntervalMs || 30;
    history.push(positions);
    if (history.length > (positions.length <= 8 ? 10000 : trailLength)) history.shift();
    lastStep = frame.Step; total = frame.Total; runT = frame.T;
    if (Number.isFinite(frame.Distance)) distance = frame.Distance;
    if (frame.DistanceIsNew) distances.push([frame.Step, frame.Distance]);
    weights = frame.Weights && frame.Weights.length ? floats(frame.Weights) : null;
    ess = Number.isFinite(frame.Ess) ? frame.Ess : NaN;
    if (Number.isFinite(ess) && weights) esses.push([frame.Step, ess / weights.length]);
    exactFloor = frame.ExactFloor; priorFloor = frame.PriorFloor;
    canvas.dataset.frames = String(frames);
    canvas.dataset.step = String(frame.Step);
    if (options.followT) requestMarginal();
    renderReadout();
    dirty = true;
    if (frame.IsFinal) finish(null);
  }

  function finish(error) {
    if (!run) return;
    run = null;
    canvas.dataset.running = 'false';
    if (dotnet) dotnet.invokeMethodAsync('OnRunEnded', error, Number.isFinite(distance) ? distance : null).catch(() => {});
  }

  // ---- editing on the canvas ----------------------------------------------------------------------
  function hit(px, py) {
    if (!spec) return -1;
    let best = -1, bestDistance = 12 * devicePixelRatio;
    spec.components.forEach((c, i) => {
      const [x, y] = toScreen(c.x, c.y), d = Math.hypot(x - px, y - py);
      if (d < bestDistance) { best = i; bestDistance = d; }
    });
    return best;
  }

  function clampCoordinate(v) { return Math.max(-10, Math.min(10, Math.round(v * 100) / 100)); }

  function report() {
    if (dotnet) dotnet.invokeMethodAsync('OnComponentsEdited', spec.components, selected).catch(() => {});
  }

  function onPointerDown(event) {
    if (!spec || mode === 'run') return;
    const [px, py] = pointer(event);
    const index = hit(px, py);
    if (event.button === 2) {
      if (index >= 0 && spec.components.length > 1) {
        spec.components.splice(index, 1);
        selected = -1;
        dirty = true;
        report();
        requestScene();
      }
      return;
    }
    if (event.button !== 0) return;
    if (index >= 0) {
      selected = index;
      drag = { index, moved: false };
      canvas.setPointerCapture(event.pointerId);
    } else if (spec.components.length < 32) {
      const [x, y] = toWorld(px, py);
      spec.components.push({ weight: 1, x: clampCoordinate(x), y: clampCoordinate(y), standardDeviation: options.newSpread || 0.3 });
      selected = spec.components.length - 1;
      report();
      requestScene();
    }
    dirty = true;
  }

  function onPointerMove(event) {
    if (!drag) return;
    const [px, py] = pointer(event);
    const [x, y] = toWorld(px, py);
    const c = spec.components[drag.index];
    c.x = clampCoordinate(x); c.y = clampCoordinate(y);
    drag.moved = true;
    dirty = true;
    requestScene(); // one request in flight at a time: the density follows the drag
  }

  function onPointerUp() {
    if (!drag) return;
    const moved = drag.moved;
    drag = null;
    if (moved) report();
  }

  // ---- the loop ---------------------------------------------------------------------------------
  function frameLoop(now) {
    if (!canvas) return;
    if (playing) {
      const t = Math.min(1, playing.startT + (now - playing.startedAt) / playing.durationMs);
      setTimeLocal(t);
      if (now - playing.reportedAt > 120 || t >= 1) {
        playing.reportedAt = now;
        if (dotnet) dotnet.invokeMethodAsync('OnTimeChanged', t).catch(() => {});
      }
      if (t >= 1) playing = null;
    }
    interpolate(performance.now());
    if (dirty) {
      dirty = false;
      draw();
      canvas.dataset.drawn = String((Number(canvas.dataset.drawn) || 0) + 1);
    }
    requestAnimationFrame(frameLoop);
  }

  function setTimeLocal(t) {
    time = Math.max(0, Math.min(1, t));
    if (mode === 'forward') {
      shown = forwardPositions();
      requestMarginal();
      renderReadout();
    }
    dirty = true;
  }

  function resize() {
    if (!canvas) return;
    const rect = canvas.getBoundingClientRect();
    const size = Math.max(200, Math.round(rect.width * devicePixelRatio));
    if (canvas.width !== size) { canvas.width = canvas.height = size; dirty = true; }
    const chart = readout && readout.querySelector('canvas');
    if (chart) {
      const r = chart.getBoundingClientRect();
      chart.width = Math.max(100, Math.round(r.width * devicePixelRatio));
      chart.height = Math.max(40, Math.round(r.height * devicePixelRatio));
    }
    renderReadout();
  }

  return {
    attach(canvasElement, readoutElement, dotnetReference) {
      canvas = canvasElement;
      readout = readoutElement;
      dotnet = dotnetReference;
      context = canvas.getContext('2d');
      canvas.addEventListener('pointerdown', onPointerDown);
      canvas.addEventListener('pointermove', onPointerMove);
      canvas.addEventListener('pointerup', onPointerUp);
      canvas.addEventListener('pointercancel', onPointerUp);
      canvas.addEventListener('contextmenu', e => e.preventDefault());
      window.addEventListener('resize', resize);
      resize();
      requestAnimationFrame(frameLoop);
    },

    /// The page's current spec; pictures are recomputed for it.
    setSpec(json) {
      if (json === specJson) return;
      specJson = json;
      spec = JSON.parse(json);
      if (selected >= spec.components.length) selected = -1;
      dirty = true;
      renderReadout();
      requestScene();
    },

    setOptions(values) {
      options = Object.assign(options, values);
      if ('followT' in values) requestMarginal();
      dirty = true;
    },

    setTime(t) {
      playing = null;
      if (mode !== 'forward') this.showForward();
      setTimeLocal(t);
    },

    playForward(durationMs) {
      if (mode !== 'forward') this.showForward();
      const startT = time >= 0.999 ? 0 : time;
      playing = { startT, startedAt: performance.now(), durationMs: (durationMs || 4000) * (1 - startT), reportedAt: 0 };
    },

    pause() { playing = null; },

    /// Back to the forward-process view (after a run): diffused data at the slider's t.
    showForward() {
      mode = 'forward';
      history = []; from = to = null;
      shown = forwardPositions();
      requestMarginal();
      renderReadout();
      dirty = true;
    },

    async run(json) {
      this.stop();
      playing = null;
      spec = JSON.parse(json);
      specJson = json;
      mode = 'run';
      frames = 0; lastStep = -1; total = spec.steps; distance = NaN; exactFloor = NaN; priorFloor = NaN; distances = []; weights = null; ess = NaN; esses = [];
      history = []; from = to = shown = null; runT = 1;
      canvas.dataset.frames = '0';
      canvas.dataset.running = 'true';
      requestMarginal();
      renderReadout();
      dirty = true;
      const hub = await connect();
      const subscription = hub.stream('Run', json).subscribe({
        next: onFrame,
        complete: () => finish(null),
        error: err => finish(err && err.message ? err.message.replace(/^.*HubException: /, '') : 'The run stopped.'),
      });
      run = { subscription };
    },

    stop() {
      if (run) {
        const { subscription } = run;
        run = null;
        canvas.dataset.running = 'false';
        subscription.dispose(); // cancels the server's stream token: the run stops at its next step
      }
    },

    stats() { return { frames, lastStep, total, distance, ess, drawn: Number(canvas && canvas.dataset.drawn) || 0 }; },

    detach() {
      this.stop();
      playing = null;
      window.removeEventListener('resize', resize);
      canvas = null;
      dotnet = null;
    },
  };
})();
