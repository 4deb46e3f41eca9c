// DiffusionLab's frame player: receives a run's frames over the /hubs/runs SignalR hub
// (MessagePack) and draws them on canvases with crisp, whole-pixel upscaling.
// Delivery is latest-wins on both ends: the server keeps one pending frame per client, and
// here a frame that arrives while another is still being decoded replaces the waiting one.
window.diffusionLab = (() => {
  let canvases = null;
  let subscription = null;
  let watchedRun = null;
  let keyframes = [];
  let pending = null;
  let drawing = false;

  // Measured, not asserted: read by the browser tests for the figures in docs/performance.md.
  const stats = { runClickedAt: null, watchAt: null, firstFrameAt: null, lastFrameAt: null, frames: 0, lastStep: -1, finalStep: -1, steps: [] };

  document.addEventListener('click', e => {
    if (e.target && e.target.closest && e.target.closest('#run-button')) stats.runClickedAt = performance.now();
  }, true);

  const connect = window.diffusionLabHub('hubs/runs');

  async function drawBytes(canvas, bytes, mime) {
    if (!canvas || !bytes) return;
    const bitmap = await createImageBitmap(new Blob([bytes], { type: mime || 'image/png' }));
    const context = canvas.getContext('2d');
    context.imageSmoothingEnabled = false;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
  }

  async function drawFrame(frame) {
    await Promise.all([
      drawBytes(canvases.xt, frame.Xt, frame.Mime),
      drawBytes(canvases.x0Hat, frame.X0Hat, frame.Mime),
      drawBytes(canvases.result, frame.X0Hat, frame.Mime),
    ]);
    for (const canvas of [canvases.xt, canvases.x0Hat, canvases.result]) {
      canvas.dataset.step = String(frame.Step);
      canvas.dataset.frames = String(stats.frames);
    }
  }

  async function pump() {
    if (drawing) return;
    drawing = true;
    try {
      while (pending) {
        const frame = pending;
        pending = null;
        await drawFrame(frame);
      }
    } finally {
      drawing = false;
    }
  }

  function onFrame(frame) {
    const now = performance.now();
    if (stats.firstFrameAt === null) stats.firstFrameAt = now;
    stats.lastFrameAt = now;
    stats.frames++;
    stats.lastStep = frame.Step;
    stats.steps.push(frame.Step);
    if (frame.IsFinal) stats.finalStep = frame.Step;
    pending = frame;
    pump();
  }

  function unsubscribe() {
    if (subscription) {
      subscription.dispose();
      subscription = null;
    }
  }

  return {
    stats,

    attach(xt, x0Hat, result) {
      canvases = { xt, x0Hat, result };
    },

    // ownerKey (optional) makes this connection the run's owner: closing the tab closes the
    // connection, and the server stops the run at once.
    async watch(runId, ownerKey) {
      unsubscribe();
      watchedRun = runId;
      keyframes = [];
      Object.assign(stats, { watchAt: performance.now(), firstFrameAt: null, lastFrameAt: null, frames: 0, lastStep: -1, finalStep: -1, steps: [] });
      const hub = await connect();
      if (watchedRun !== runId) return;
      if (ownerKey) await hub.invoke('ClaimRun', runId, ownerKey);
      subscription = hub.stream('Frames', runId).subscribe({
        next: onFrame,
        complete: () => { subscription = null; },
        error: err => console.warn('frame stream ended', err),
      });
    },

    async loadKeyframes(runId) {
      const hub = await connect();
      keyframes = await hub.invoke('Keyframes', runId);
      return keyframes.length;
    },

    async showKeyframe(index) {
      const frame = keyframes[index];
      if (frame && canvases) await drawFrame(frame);
    },

    setQuery(query) {
      const url = new URL(window.location.href);
      url.search = query ? '?' + query : '';
      window.history.replaceState(window.history.state, '', url.toString());
    },

    async copyText(text) {
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        window.prompt('Copy this link:', text);
      }
    },

    detach() {
      unsubscribe();
      watchedRun = null;
      canvases = null;
    },
  };
})();
