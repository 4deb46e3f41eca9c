// DiffusionLab's frame player: the one way a run's pictures and numbers reach the screen, used by
// the lab, the watch page, compare, diversity and the saved-run replay through <FramePlayer>.
//
// A player is bound to one element (its root). Inside it, the page marks what the player fills:
//   canvas[data-frame="xt" | "x0hat"]   a step's x_t or x̂0
//   canvas[data-frame="error"]          |x̂0 − x0| of the step, once the player has the still "truth"
//   svg[data-cursor-steps] line[data-chart-cursor]   a chart's cursor, moved to the step shown
//   canvas[data-still="<name>"]         a picture that is not a step (y, x0, a sample, the mean)
//   [data-readout="<name>"]             a number, written by `format` below: step, t, psnr, ssim,
//                                       residual, elapsed, nfe, ess, and "ended" (how a watched run ended)
// Elements inside a [data-run="<id>"] belong to that run (compare shows several at once); without
// such marks the whole root belongs to the one run it plays.
//
// Frames come over SignalR (MessagePack) with the wire names of the server's RunFrame: a live run
// from /hubs/runs (Frames), a watched one from /hubs/watch (group pushes), keyframes and saved runs
// from /hubs/runs too. Drawing is latest-wins: a frame that arrives while another is still being
// decoded replaces the waiting one, so a slow browser shows fewer frames, never late ones.
// Pictures are drawn at the canvas's display size whatever their own: a small image with whole-pixel
// upscaling (each image pixel becomes an s×s block of device pixels, s the largest whole number that
// fits), a larger one than its box smoothly scaled down; either centred in the canvas's box.
import { connect, open, hubMessage } from '../../js/hub-connection.js';

// ---- numbers: every figure the pages show about a step is formatted here, and only here -------
const missing = '–';
const finite = value => typeof value === 'number' && Number.isFinite(value);

/// Residuals span many decades as a run converges: three significant figures, never rounded to 0.
function residualText(value) {
  const size = Math.abs(value);
  if (size === 0) return '0';
  if (size < 1e-3) return value.toExponential(2);
  if (size < 1) return value.toPrecision(3);
  return value.toFixed(3);
}

export const format = {
  step: f => finite(f.Step) && finite(f.Total) ? `step ${f.Step + 1} of ${f.Total}` : '',
  // Diffusion time, for the solvers that have one (the server sends NaN or nothing otherwise).
  t: f => finite(f.T) ? `t = ${f.T.toFixed(2)}` : '',
  psnr: f => finite(f.Psnr) ? `${f.Psnr.toFixed(2)} dB` : missing,
  ssim: f => finite(f.Ssim) ? f.Ssim.toFixed(3) : missing,
  residual: f => finite(f.Residual) ? residualText(f.Residual) : missing,
  elapsed: f => finite(f.ElapsedMs) ? `${(f.ElapsedMs / 1000).toFixed(1)} s` : missing,
  nfe: f => finite(f.NetworkEvaluations) ? String(f.NetworkEvaluations) : missing,
  // Effective sample size, for sequential Monte Carlo solvers (NaN for the others).
  ess: f => finite(f.Ess) ? f.Ess.toFixed(1) : missing,
};

// ---- measured, not asserted: read by the browser tests for the README's figures ----------------
export const stats = { runClickedAt: null, watchAt: null, firstFrameAt: null, lastFrameAt: null, frames: 0, lastStep: -1, finalStep: -1, steps: [] };
window.diffusionLab = { stats };
document.addEventListener('click', e => {
  if (e.target && e.target.closest && e.target.closest('[data-starts-run]')) stats.runClickedAt = performance.now();
}, true);

// ---- pictures ----------------------------------------------------------------------------------
const shown = new WeakMap(); // canvas → the bitmap it shows, to redraw it when the canvas is resized
const resized = new ResizeObserver(entries => {
  for (const entry of entries) {
    const bitmap = shown.get(entry.target);
    if (bitmap) paint(entry.target, bitmap);
  }
});

// A short fingerprint of a picture's bytes (FNV-1a), kept on the canvas that shows it: two pages show
// the same picture exactly when their canvases carry the same fingerprint, whatever their size.
function fingerprint(bytes) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return (hash >>> 0).toString(16) + '-' + bytes.length;
}

function decode(bytes, mime) {
  if (!bytes || bytes.length === 0) return Promise.resolve(null);
  return createImageBitmap(new Blob([bytes], { type: mime || 'image/png' })).catch(() => null);
}

function paint(canvas, bitmap) {
  if (shown.get(canvas) !== bitmap) {
    if (!shown.has(canvas)) resized.observe(canvas);
    shown.set(canvas, bitmap);
  }
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio), height = Math.round(canvas.clientHeight * ratio);
  if (width === 0 || height === 0) return; // not laid out (hidden): drawn once it gets a size
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const fit = Math.min(width / bitmap.width, height / bitmap.height);
  const scale = fit >= 1 ? Math.floor(fit) : fit;
  const w = Math.round(bitmap.width * scale), h = Math.round(bitmap.height * scale);
  const context = canvas.getContext('2d');
  // Blocks for an enlarged picture; a shrunk one (a 256-pixel image in a 192-pixel box) is smoothed, not decimated.
  context.imageSmoothingEnabled = fit < 1;
  context.imageSmoothingQuality = 'high';
  context.clearRect(0, 0, width, height);
  context.drawImage(bitmap, Math.floor((width - w) / 2), Math.floor((height - h) / 2), w, h);
}

function within(scopes, selector) {
  return scopes.flatMap(scope => [...scope.querySelectorAll(selector)]);
}

function writeReadouts(scopes, values) {
  for (const element of within(scopes, '[data-readout]')) {
    const formatter = format[element.dataset.readout];
    if (!formatter) continue;
    element.textContent = formatter(values);
    if (finite(values.Step)) element.dataset.step = String(values.Step);
  }
  if (finite(values.Step)) moveCursors(scopes, values.Step);
}

// Each chart's cursor line goes to the step shown, in the chart's own viewBox units.
function moveCursors(scopes, step) {
  for (const cursor of within(scopes, 'svg[data-cursor-steps] line[data-chart-cursor]')) {
    const chart = cursor.ownerSVGElement;
    const left = Number(chart.dataset.cursorLeft), right = Number(chart.dataset.cursorRight), steps = Number(chart.dataset.cursorSteps);
    if (!(steps > 0)) continue;
    const x = String(left + (right - left) * Math.min(step, steps) / steps);
    cursor.setAttribute('x1', x);
    cursor.setAttribute('x2', x);
    cursor.dataset.step = String(step);
  }
}

// ---- the error map: |x̂0 − x0| per pixel, averaged over the colour channels, four times brighter,
// drawn dark (right) to bright yellow (wrong). Pictures, not measurements: the metrics come from the server.
const errorGain = 4;

function pixelsOf(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d');
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, bitmap.width, bitmap.height);
}

function errorPicture(estimate, truth) {
  if (!estimate || !truth || estimate.width !== truth.width || estimate.height !== truth.height) return Promise.resolve(null);
  const a = pixelsOf(estimate).data, b = truth.data;
  const out = new ImageData(truth.width, truth.height);
  for (let i = 0; i < b.length; i += 4) {
    const e = (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2])) / (3 * 255);
    const v = Math.min(1, e * errorGain);
    out.data[i] = Math.round(255 * Math.min(1, 3 * v));
    out.data[i + 1] = Math.round(255 * Math.min(1, Math.max(0, 3 * v - 1)));
    out.data[i + 2] = Math.round(255 * Math.min(1, Math.max(0, 3 * v - 2)));
    out.data[i + 3] = 255;
  }
  return createImageBitmap(out);
}

function clearReadouts(scopes) {
  for (const element of within(scopes, '[data-readout]')) {
    element.textContent = '';
    delete element.dataset.step;
  }
}

async function drawFrame(scopes, frame, drawn, truth) {
  const [xt, x0hat] = await Promise.all([decode(frame.Xt, frame.Mime), decode(frame.X0Hat, frame.Mime)]);
  const wantsError = truth && within(scopes, 'canvas[data-frame="error"]').length > 0;
  const error = wantsError ? await errorPicture(x0hat, truth) : null;
  const pictures = { xt, x0hat, error };
  for (const canvas of within(scopes, 'canvas[data-frame]')) {
    const bitmap = pictures[canvas.dataset.frame];
    if (!bitmap) continue;
    paint(canvas, bitmap);
    canvas.dataset.step = String(frame.Step);
    canvas.dataset.frames = String(drawn);
  }
  writeReadouts(scopes, frame);
}

// ---- a player ----------------------------------------------------------------------------------
export function createPlayer(root) {
  const runs = new Map(); // run id → its stream (frames from /hubs/runs)
  let keyframes = [];
  let watching = null;    // the watch page's own connection to /hubs/watch
  let stillsQueue = Promise.resolve(), stillsCount = 0;
  let truth = null;       // x0's pixels, from the still "truth", for the error map

  async function drawStills(stills, metrics) {
    const entries = Object.entries(stills || {}).filter(([, bytes]) => bytes && bytes.length > 0);
    const bitmaps = await Promise.all(entries.map(([, bytes]) => decode(bytes)));
    stillsCount++;
    entries.forEach(([name], i) => {
      if (!bitmaps[i]) return;
      if (name === 'truth') truth = pixelsOf(bitmaps[i]);
      const picture = fingerprint(entries[i][1]);
      for (const canvas of root.querySelectorAll(`canvas[data-still="${CSS.escape(name)}"]`)) {
        paint(canvas, bitmaps[i]);
        canvas.dataset.drawn = String(stillsCount);
        canvas.dataset.picture = picture;
      }
    });
    if (metrics) writeReadouts([root], metrics);
  }

  // The elements a run's frames go to: those marked with its id, or the whole root when nothing is marked.
  function scopesOf(runId) {
    const marked = [...root.querySelectorAll('[data-run]')];
    if (runId === null || marked.length === 0) return [root];
    return marked.filter(element => element.dataset.run === runId);
  }

  // One latest-wins queue of frames for one run (or for the scrubber, runId null).
  function channel(runId) {
    return { runId, pending: null, drawing: false, drawn: 0, lastStep: -1, closed: false, subscription: null };
  }

  function offer(queue, frame) {
    queue.pending = frame;
    pump(queue);
  }

  async function pump(queue) {
    if (queue.drawing) return;
    queue.drawing = true;
    try {
      while (queue.pending && !queue.closed) {
        const frame = queue.pending;
        queue.pending = null;
        queue.drawn++;
        await drawFrame(scopesOf(queue.runId), frame, queue.drawn, truth);
      }
    } finally {
      queue.drawing = false;
    }
  }

  function count(frame) {
    const now = performance.now();
    if (stats.firstFrameAt === null) stats.firstFrameAt = now;
    stats.lastFrameAt = now;
    stats.frames++;
    stats.lastStep = frame.Step;
    stats.steps.push(frame.Step);
    if (frame.IsFinal) stats.finalStep = frame.Step;
  }

  const scrubber = channel(null);

  function writeEnded(text) {
    for (const element of root.querySelectorAll('[data-readout="ended"]')) element.textContent = text;
  }

  const player = {
    /// Streams a live run's frames from /hubs/runs. ownerKey (optional) makes this connection the
    /// run's owner: closing the tab closes the connection, and the server stops the run at once.
    async follow(runId, ownerKey) {
      if (runs.has(runId)) return;
      const queue = channel(runId);
      runs.set(runId, queue);
      clearReadouts(scopesOf(runId));
      Object.assign(stats, { watchAt: performance.now(), firstFrameAt: null, lastFrameAt: null, frames: 0, lastStep: -1, finalStep: -1, steps: [] });
      try {
        const hub = await connect('hubs/runs');
        if (queue.closed) return;
        if (ownerKey) await hub.invoke('ClaimRun', runId, ownerKey);
        if (queue.closed) return;
        queue.subscription = hub.stream('Frames', runId).subscribe({
          next: frame => { count(frame); offer(queue, frame); },
          complete: () => { queue.subscription = null; },
          error: error => console.warn('frame stream ended', hubMessage(error)),
        });
      } catch (error) {
        console.warn('could not follow run', runId, hubMessage(error));
      }
    },

    unfollow(runId) {
      const queue = runs.get(runId);
      if (!queue) return;
      runs.delete(runId);
      queue.closed = true;
      if (queue.subscription) queue.subscription.dispose();
    },

    /// A live run's keyframes (for the scrubber), from /hubs/runs; returns how many (0 when the run is gone).
    async loadKeyframes(runId) {
      try {
        const hub = await connect('hubs/runs');
        keyframes = await hub.invoke('Keyframes', runId);
      } catch (error) {
        console.warn('could not load keyframes', runId, hubMessage(error));
        keyframes = [];
      }
      return keyframes.length;
    },

    /// A saved run: its keyframes, y and x0 from the store (through /hubs/runs); draws y, x0 and the
    /// last keyframe. Returns how many keyframes there are (0 when the server refuses).
    async loadSavedRun(runId) {
      try {
        const hub = await connect('hubs/runs');
        const saved = await hub.invoke('SavedRun', runId);
        keyframes = saved.Frames || [];
        await player.showStills({ measurement: saved.Measurement, truth: saved.GroundTruth }, null);
        if (keyframes.length > 0) offer(scrubber, keyframes[keyframes.length - 1]);
        return keyframes.length;
      } catch (error) {
        console.warn('could not load saved run', runId, hubMessage(error));
        return 0;
      }
    },

    showKeyframe(index) {
      const frame = keyframes[index];
      if (frame) offer(scrubber, frame);
    },

    /// Follows someone else's run on /hubs/watch (its own connection: the page can only listen).
    /// Draws y, x0 and the frames so far, then the live ones. Returns { title, status } or { error }.
    async watch(runId) {
      player.unwatch();
      const queue = channel(null);
      const connection = open('hubs/watch');
      watching = { queue, connection };
      const take = frame => {
        if (frame.Step <= queue.lastStep) return; // already had it from the snapshot
        queue.lastStep = frame.Step;
        count(frame);
        offer(queue, frame);
        if (frame.IsFinal) writeEnded('finished');
      };
      connection.on('Frame', take);
      connection.on('Ended', (status, error) => {
        root.dataset.ended = status;
        const word = String(status).toLowerCase();
        writeEnded(error ? `${word}: ${error}` : word);
      });
      try {
        await connection.start();
        const snapshot = await connection.invoke('Watch', runId);
        await player.showStills({ measurement: snapshot.Measurement, truth: snapshot.GroundTruth }, null);
        for (const frame of snapshot.Frames) take(frame);
        return { title: snapshot.Title, status: snapshot.Status };
      } catch (error) {
        player.unwatch();
        return { error: hubMessage(error) };
      }
    },

    unwatch() {
      if (!watching) return;
      watching.queue.closed = true;
      watching.connection.stop();
      watching = null;
    },

    /// Pictures that are not steps, by name (canvas[data-still=name]), and numbers that are not a
    /// step's (a diversity batch's mean: the same names as a frame's metrics). Calls are drawn in
    /// the order they came, so an older batch of pictures never lands over a newer one.
    showStills(stills, metrics) {
      stillsQueue = stillsQueue.then(() => drawStills(stills, metrics)).catch(error => console.warn('could not draw', error));
      return stillsQueue;
    },

    dispose() {
      for (const runId of [...runs.keys()]) player.unfollow(runId);
      player.unwatch();
      scrubber.closed = true;
      keyframes = [];
      delete root.dataset.player;
    },
  };

  root.dataset.player = 'ready';
  return player;
}
