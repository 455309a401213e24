// labhouse web UI: upload, live progress over Server-Sent Events, and a before/after gallery.
// Plain JavaScript, no build step, no third-party code: the files are embedded in the binary.
'use strict';

(() => {
  const API = '/api/v1';
  const PAGE_SIZE = 12;
  const MAX_STREAMS = 3; // browsers allow ~6 HTTP/1.1 connections per host; keep room for images
  const POLL_MS = 2000;
  const KEY_STORAGE = 'labhouse.apiKey';
  const ACTIVE = new Set(['queued', 'running']);

  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  };

  const state = {
    backends: [],
    styles: [],
    stylesByName: new Map(),
    jobs: new Map(), // id -> job JSON
    nextCursor: null,
    file: null,
    previewUrl: null,
    strengthDirty: false,
    apiKey: localStorage.getItem(KEY_STORAGE) || '',
  };

  // ---------------------------------------------------------------- API access

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  let keyPrompt = null; // a pending promise while the API key dialog is open

  async function api(path, options = {}, retried = false) {
    const headers = new Headers(options.headers || {});
    if (state.apiKey) headers.set('Authorization', `Bearer ${state.apiKey}`);
    let res;
    try {
      res = await fetch(path.startsWith('/') ? path : `${API}/${path}`, { ...options, headers });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', 'Could not reach the labhouse server. Is it still running?');
    }
    if (res.status === 401 && !retried) {
      await askForApiKey(await errorFrom(res));
      return api(path, options, true);
    }
    if (!res.ok) throw await errorFrom(res);
    if (options.raw) return res;
    if (res.status === 204) return null;
    const type = res.headers.get('Content-Type') || '';
    return type.includes('json') ? res.json() : res.text();
  }

  async function errorFrom(res) {
    let code = `HTTP_${res.status}`;
    let message = res.statusText || `HTTP ${res.status}`;
    try {
      const body = await res.clone().json();
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      }
    } catch (_) {
      /* not JSON */
    }
    return new ApiError(res.status, code, message);
  }

  // Images, downloads and streams cannot carry an Authorization header by themselves. With no key
  // (the default) plain URLs are used; with a key they are fetched and shown as blob: URLs.
  function setImage(img, url) {
    if (!state.apiKey) {
      img.src = url;
      return;
    }
    api(url, { raw: true })
      .then((res) => res.blob())
      .then((blob) => {
        img.src = URL.createObjectURL(blob);
      })
      .catch(() => img.classList.add('img-failed'));
  }

  async function fetchBlob(url) {
    const res = await api(url, { raw: true });
    return res.blob();
  }

  // ---------------------------------------------------------------- API key dialog (only on 401)

  const keyDialog = $('#api-key-dialog');
  const keyInput = $('#api-key-input');
  const keyError = $('#api-key-error');

  function askForApiKey(error) {
    if (keyPrompt) return keyPrompt;
    keyPrompt = new Promise((resolve, reject) => {
      keyInput.value = state.apiKey;
      if (state.apiKey && error) {
        keyError.textContent = `That key was refused: ${error.message}`;
        keyError.hidden = false;
      } else {
        keyError.hidden = true;
      }
      const onClose = () => {
        keyDialog.removeEventListener('close', onClose);
        keyPrompt = null;
        if (keyDialog.returnValue === 'save' && keyInput.value.trim()) {
          saveApiKey(keyInput.value.trim());
          resolve();
        } else {
          reject(new ApiError(401, 'UNAUTHENTICATED', 'An API key is needed to use this server.'));
        }
      };
      keyDialog.addEventListener('close', onClose);
      keyDialog.returnValue = '';
      keyDialog.showModal();
      keyInput.focus();
    });
    return keyPrompt;
  }

  function saveApiKey(key) {
    state.apiKey = key;
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    $('#api-key-open').hidden = !key;
  }

  $('#api-key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!keyInput.value.trim()) {
      keyError.textContent = 'Enter a key, or press Escape to cancel.';
      keyError.hidden = false;
      return;
    }
    keyDialog.close('save');
  });
  $('#api-key-forget').addEventListener('click', () => {
    saveApiKey('');
    keyInput.value = '';
    keyDialog.close('');
  });
  $('#api-key-open').addEventListener('click', () => {
    askForApiKey().then(() => refreshAll(), () => {});
  });
  $('#api-key-open').hidden = !state.apiKey;

  // ---------------------------------------------------------------- Words

  const ERROR_WORDS = {
    INVALID_ARGUMENT: 'The server did not accept this',
    NOT_FOUND: 'Not found',
    ALREADY_EXISTS: 'Already exists',
    FAILED_PRECONDITION: 'This cannot be done right now',
    RESOURCE_EXHAUSTED: 'The server is busy or out of resources',
    PAYLOAD_TOO_LARGE: 'The image is too large',
    CANCELLED: 'Canceled',
    DEADLINE_EXCEEDED: 'It took too long',
    UNAVAILABLE: 'The backend is not available',
    UNIMPLEMENTED: 'Not supported by this server',
    INTERNAL: 'Something went wrong inside labhouse',
    NETWORK: 'No connection',
    UNAUTHENTICATED: 'API key needed',
  };

  function plainError(err) {
    if (!err) return '';
    const title = ERROR_WORDS[err.code] || 'Something went wrong';
    const msg = (err.message || '').trim();
    if (!msg) return `${title}.`;
    return `${title}: ${msg}${/[.!?]$/.test(msg) ? '' : '.'}`;
  }

  const STAGE_WORDS = {
    queued: 'Waiting in line',
    prepare: 'Preparing',
    loading: 'Loading the model',
    load: 'Loading the model',
    encode: 'Encoding',
    denoise: 'Painting',
    sampling: 'Painting',
    decode: 'Decoding',
    effect: 'Applying the effect',
    blend: 'Blending',
    upload: 'Uploading',
    remote: 'Waiting for the remote service',
    done: 'Finishing',
  };
  const stageWords = (stage) =>
    STAGE_WORDS[stage] || (stage ? stage.charAt(0).toUpperCase() + stage.slice(1).replace(/[_-]/g, ' ') : 'Working');

  const STATUS_WORDS = {
    queued: 'Queued',
    running: 'Running',
    succeeded: 'Done',
    failed: 'Failed',
    canceled: 'Canceled',
  };

  function formatDuration(ms) {
    if (ms === undefined || ms === null) return '';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
    const m = Math.floor(s / 60);
    return `${m} min ${Math.round(s - m * 60)} s`;
  }

  function formatEta(seconds) {
    if (!(seconds > 0)) return '';
    if (seconds < 1) return 'less than a second left';
    if (seconds < 60) return `about ${Math.round(seconds)} s left`;
    return `about ${Math.round(seconds / 60)} min left`;
  }

  function relativeTime(iso) {
    if (!iso) return '';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    const diff = (Date.now() - t) / 1000;
    if (diff < 45) return 'just now';
    if (diff < 3600) return `${Math.round(diff / 60)} min ago`;
    if (diff < 86400) return `${Math.round(diff / 3600)} h ago`;
    return new Date(t).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  }

  const styleTitle = (name) => (name ? state.stylesByName.get(name)?.title || name : 'No style');

  function jobTitle(job) {
    const p = job.params || {};
    if (p.style) return styleTitle(p.style);
    if (p.prompt) return p.prompt.length > 40 ? `${p.prompt.slice(0, 40)}…` : p.prompt;
    return 'Transformation';
  }

  function seedOf(job) {
    const m = job.meta || {};
    if (m.seed !== undefined && m.seed !== null && m.seed !== '') return String(m.seed);
    const p = job.params || {};
    if (p.seed !== undefined && p.seed !== null) return String(p.seed);
    return null;
  }

  const randomSeed = () => {
    const a = new Uint32Array(1);
    crypto.getRandomValues(a);
    return a[0];
  };

  let liveTimer = null;
  function announce(text) {
    const live = $('#live');
    clearTimeout(liveTimer);
    live.textContent = '';
    liveTimer = setTimeout(() => {
      live.textContent = text;
    }, 50);
  }

  function toast(text, kind = 'info') {
    const t = el('div', { class: `toast toast-${kind}` }, text);
    $('#toasts').append(t);
    setTimeout(() => t.classList.add('toast-out'), 4500);
    setTimeout(() => t.remove(), 5000);
  }

  // ---------------------------------------------------------------- Backends and styles

  function renderBackends() {
    const select = $('#backend');
    const previous = select.value;
    select.replaceChildren(el('option', { value: 'auto' }, 'Automatic (best available)'));
    const chips = $('#backend-chips');
    chips.replaceChildren();
    for (const b of state.backends) {
      const label = b.available ? b.name : `${b.name} — unavailable`;
      select.append(el('option', { value: b.name, disabled: !b.available }, label));
      chips.append(
        el(
          'li',
          {
            class: `chip ${b.available ? 'chip-ok' : 'chip-off'}`,
            title: b.available ? `${b.name} is ready` : `${b.name}: ${b.reason || 'unavailable'}`,
          },
          el('span', { class: 'dot', 'aria-hidden': 'true' }),
          b.name,
          el('span', { class: 'visually-hidden' }, b.available ? ' (ready)' : ` (unavailable: ${b.reason || ''})`),
        ),
      );
    }
    const keep = state.backends.find((b) => b.name === previous && b.available);
    select.value = keep ? previous : 'auto';
    updateBackendNote();
  }

  function updateBackendNote() {
    const note = $('#backend-note');
    const down = state.backends.filter((b) => !b.available);
    const chosen = $('#backend').value;
    const parts = [];
    if (chosen === 'auto') parts.push('labhouse picks an available backend that supports the style.');
    for (const b of down) parts.push(`${b.name} is unavailable: ${b.reason || 'no reason given'}.`);
    note.textContent = parts.join(' ');
  }

  // A backend that takes a second picture says so in its details ("upload reference_image").
  function needsReference(name) {
    const b = state.backends.find((x) => x.name === name);
    return !!b && (Object.values(b.details || {}).some((v) => String(v).includes('reference_image')) || /face/.test(b.name));
  }

  function availableBackends() {
    return new Set(state.backends.filter((b) => b.available).map((b) => b.name));
  }

  function styleSupported(style, backend) {
    const list = style.backends || [];
    if (backend === 'auto') {
      const up = availableBackends();
      return list.some((name) => up.has(name));
    }
    return list.includes(backend);
  }

  function hueFor(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return h;
  }

  function renderStyles() {
    const grid = $('#style-grid');
    const backend = $('#backend').value;
    const current = grid.querySelector('input:checked')?.value;
    grid.replaceChildren();
    if (!state.styles.length) {
      grid.append(el('p', { class: 'muted' }, 'No styles are defined on this server.'));
      return;
    }
    let firstEnabled = null;
    for (const s of state.styles) {
      const ok = styleSupported(s, backend);
      const id = `style-${s.name}`;
      const input = el('input', {
        type: 'radio',
        name: 'style',
        id,
        value: s.name,
        disabled: !ok,
        'aria-describedby': `${id}-desc`,
      });
      let badge = null;
      if (!ok) {
        const names = s.backends || [];
        badge = names.length
          ? `Needs ${names.join(' or ')}`
          : 'No backend supports it yet';
      }
      const label = el(
        'label',
        { class: `style-option${ok ? '' : ' is-disabled'}`, for: id, style: `--h:${hueFor(s.name)}` },
        input,
        el('span', { class: `style-swatch swatch-${s.name}`, 'aria-hidden': 'true' }),
        el(
          'span',
          { class: 'style-text' },
          el('span', { class: 'style-title' }, s.title || s.name),
          el('span', { class: 'style-desc', id: `${id}-desc` }, badge ? `${badge}. ${s.description || ''}` : s.description || ''),
        ),
        badge ? el('span', { class: 'style-badge', 'aria-hidden': 'true' }, 'unavailable') : null,
      );
      grid.append(label);
      if (ok && !firstEnabled) firstEnabled = input;
      if (ok && s.name === current) input.checked = true;
    }
    if (!grid.querySelector('input:checked') && firstEnabled) firstEnabled.checked = true;
    $('#style-note').textContent = firstEnabled ? '' : `${backend === 'auto' ? 'No available backend' : backend} does not use a style.`;
    $('#reference-field').hidden = !needsReference(backend);
    syncStrengthToStyle();
  }

  function selectedStyle() {
    const v = $('#style-grid input:checked')?.value;
    return v ? state.stylesByName.get(v) : null;
  }

  // ---------------------------------------------------------------- Advanced settings

  const strength = $('#strength');
  const strengthOut = $('#strength-out');
  function syncStrengthToStyle() {
    if (state.strengthDirty) return;
    const s = selectedStyle();
    const def = s?.sdxl?.strength;
    strength.value = typeof def === 'number' ? def : 0.6;
    strengthOut.textContent = 'style default';
  }
  strength.addEventListener('input', () => {
    state.strengthDirty = true;
    strengthOut.textContent = Number(strength.value).toFixed(2);
    $('#strength-reset').hidden = false;
  });
  $('#strength-reset').addEventListener('click', () => {
    state.strengthDirty = false;
    $('#strength-reset').hidden = true;
    syncStrengthToStyle();
    strength.focus();
  });
  $('#seed-dice').addEventListener('click', () => {
    $('#seed').value = randomSeed();
  });
  $('#backend').addEventListener('change', () => {
    updateBackendNote();
    renderStyles();
  });
  $('#style-grid').addEventListener('change', syncStrengthToStyle);

  // ---------------------------------------------------------------- File picking

  const dropzone = $('#dropzone');
  const fileInput = $('#image');

  function setFile(file) {
    state.file = file || null;
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = null;
    const preview = $('#dropzone-preview');
    const empty = $('#dropzone-empty');
    if (!file) {
      preview.hidden = true;
      empty.hidden = false;
      $('#clear-file').hidden = true;
      dropzone.classList.remove('has-file');
      fileInput.value = '';
      return;
    }
    hideFormError();
    const img = $('#preview-img');
    const looksLikeImage = !file.type || file.type.startsWith('image/');
    if (looksLikeImage) {
      state.previewUrl = URL.createObjectURL(file);
      img.src = state.previewUrl;
      img.hidden = false;
    } else {
      img.removeAttribute('src');
      img.hidden = true;
    }
    img.alt = `Preview of ${file.name}`;
    $('#preview-file').textContent = `${file.name} · ${(file.size / 1024).toFixed(file.size < 10240 ? 1 : 0)} KB${
      looksLikeImage ? '' : ' · this does not look like an image'
    }`;
    preview.hidden = false;
    empty.hidden = true;
    $('#clear-file').hidden = false;
    dropzone.classList.add('has-file');
  }

  fileInput.addEventListener('change', () => setFile(fileInput.files[0]));
  $('#clear-file').addEventListener('click', () => {
    setFile(null);
    fileInput.focus();
  });
  ['dragenter', 'dragover'].forEach((type) =>
    dropzone.addEventListener(type, (e) => {
      e.preventDefault();
      dropzone.classList.add('is-dragging');
    }),
  );
  ['dragleave', 'dragend'].forEach((type) =>
    dropzone.addEventListener(type, (e) => {
      if (e.target === dropzone || !dropzone.contains(e.relatedTarget)) dropzone.classList.remove('is-dragging');
    }),
  );
  dropzone.addEventListener('drop', (e) => {
    e.preventDefault();
    dropzone.classList.remove('is-dragging');
    const file = e.dataTransfer?.files?.[0];
    if (file) setFile(file);
  });
  // Dropping outside the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  // Paste an image from the clipboard.
  window.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData?.items || [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
    if (item) setFile(item.getAsFile());
  });

  // ---------------------------------------------------------------- Submitting

  const formError = $('#form-error');
  function showFormError(text) {
    formError.innerHTML =
      '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 7.5v5.5M12 16.5v.01" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg>';
    formError.append(el('span', {}, text));
    formError.hidden = false;
  }
  function hideFormError() {
    formError.hidden = true;
    formError.replaceChildren();
  }

  function setBusy(busy) {
    const btn = $('#submit');
    btn.disabled = busy;
    btn.classList.toggle('is-busy', busy);
    btn.querySelector('.btn-label').textContent = busy ? 'Uploading…' : 'Transform';
  }

  $('#job-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    hideFormError();
    $('#form-status').textContent = '';
    if (!state.file) {
      showFormError('Choose a photo first: drop it on the box above or pick a file.');
      fileInput.focus();
      return;
    }
    const fd = new FormData();
    fd.append('image', state.file, state.file.name || 'photo');
    fd.append('backend', $('#backend').value);
    const style = $('#style-grid input:checked')?.value;
    if (style) fd.append('style', style);
    const prompt = $('#prompt').value.trim();
    if (prompt) fd.append('prompt', prompt);
    const negative = $('#negative_prompt').value.trim();
    if (negative) fd.append('negative_prompt', negative);
    if (state.strengthDirty) fd.append('strength', strength.value);
    const steps = $('#steps').value.trim();
    if (steps) fd.append('steps', steps);
    const seed = $('#seed').value.trim();
    if (seed) fd.append('seed', seed);
    const reference = $('#reference_image').files[0];
    if (reference && !$('#reference-field').hidden) fd.append('reference_image', reference, reference.name);

    setBusy(true);
    try {
      const job = await api('jobs', { method: 'POST', body: fd });
      addJob(job, { prepend: true });
      revealCard(job.id);
      $('#form-status').textContent = `${jobTitle(job)} queued. Follow it in the gallery.`;
      announce(`${jobTitle(job)} queued.`);
    } catch (err) {
      showFormError(plainError(err));
    } finally {
      setBusy(false);
    }
  });

  // ---------------------------------------------------------------- Live progress

  const streams = new Map(); // id -> EventSource
  let pollTimer = null;

  function trackActive() {
    const active = [...state.jobs.values()].filter((j) => ACTIVE.has(j.status));
    // Running jobs first, then the newest queued ones.
    active.sort((a, b) => (a.status === b.status ? (b.created_at || '').localeCompare(a.created_at || '') : a.status === 'running' ? -1 : 1));
    const wanted = new Set(state.apiKey ? [] : active.slice(0, MAX_STREAMS).map((j) => j.id));
    for (const [id, es] of streams) {
      if (!wanted.has(id)) {
        es.close();
        streams.delete(id);
      }
    }
    for (const id of wanted) if (!streams.has(id)) openStream(id);
    const needPoll = active.length > 0;
    if (needPoll && !pollTimer) pollTimer = setInterval(pollActive, POLL_MS);
    if (!needPoll && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  function openStream(id) {
    const es = new EventSource(`${API}/jobs/${encodeURIComponent(id)}/events`);
    streams.set(id, es);
    es.addEventListener('status', (e) => updateJob(JSON.parse(e.data)));
    es.addEventListener('progress', (e) => {
      const d = JSON.parse(e.data);
      const job = state.jobs.get(d.id);
      if (!job) return;
      if (!ACTIVE.has(d.status)) {
        // The final state comes with the full job (result URL, timings) in "done"; fetch it in case
        // the stream ends before that.
        setTimeout(() => {
          if (ACTIVE.has(state.jobs.get(id)?.status)) refreshJob(id);
        }, 1500);
        updateJob({ ...job, progress: d.progress });
        return;
      }
      updateJob({ ...job, status: d.status, progress: d.progress, error: d.error ?? job.error });
    });
    // A running sdxl job with TAESDXL sends a look at the image after each step (a JPEG data URL):
    // it replaces the card's picture until the result arrives with "done".
    es.addEventListener('preview', (e) => {
      const d = JSON.parse(e.data);
      const card = gallery.querySelector(`[data-id="${CSS.escape(d.id)}"]`);
      const img = card && $('.card-media img', card);
      if (!img || !String(d.image).startsWith('data:image/jpeg;base64,')) return;
      img.src = d.image;
      img.alt = `Preview of the ${jobTitle(state.jobs.get(d.id) || {}).toLowerCase()} job at step ${d.progress.step} of ${d.progress.total}`;
      card.querySelector('.card-media').classList.add('media-preview');
    });
    es.addEventListener('done', (e) => {
      es.close();
      streams.delete(id);
      updateJob(JSON.parse(e.data));
    });
    es.onerror = () => {
      // CLOSED: the server refused the stream (deleted job, auth...). Polling takes over.
      if (es.readyState === EventSource.CLOSED) {
        streams.delete(id);
        es.fakeClosed = true;
      }
    };
  }

  async function refreshJob(id) {
    try {
      updateJob(await api(`jobs/${encodeURIComponent(id)}`));
    } catch (err) {
      if (err.status === 404) removeJob(id);
    }
  }

  let pollTick = 0;
  async function pollActive() {
    pollTick += 1;
    const active = [...state.jobs.values()].filter((j) => ACTIVE.has(j.status));
    for (const job of active) {
      // Streamed jobs are re-read now and then for their queue position, which events do not carry.
      if (streams.has(job.id) && !(job.status === 'queued' && pollTick % 2 === 0)) continue;
      await refreshJob(job.id);
    }
    trackActive();
  }

  // ---------------------------------------------------------------- Gallery

  const gallery = $('#gallery');
  const cardTemplate = $('#job-card-template');

  function addJob(job, { prepend = false } = {}) {
    const existed = state.jobs.has(job.id);
    state.jobs.set(job.id, job);
    if (existed) {
      renderCard(job);
    } else {
      const card = renderCard(job);
      if (prepend) gallery.prepend(card);
      else gallery.append(card);
    }
    updateEmpty();
    trackActive();
  }

  function updateJob(job) {
    const old = state.jobs.get(job.id);
    if (!old) return;
    if (job.queue_position === undefined && job.status === 'queued' && old.queue_position !== undefined) {
      job = { ...job, queue_position: old.queue_position };
    }
    state.jobs.set(job.id, job);
    if (old.status !== job.status) {
      const title = jobTitle(job);
      if (job.status === 'running') announce(`${title} started.`);
      else if (job.status === 'succeeded') announce(`${title} is done${job.duration_ms ? ` in ${formatDuration(job.duration_ms)}` : ''}.`);
      else if (job.status === 'failed') announce(`${title} failed. ${plainError(job.error)}`);
      else if (job.status === 'canceled') announce(`${title} canceled.`);
    } else if (old.progress?.stage !== job.progress?.stage && job.status === 'running') {
      announce(`${jobTitle(job)}: ${stageWords(job.progress?.stage)}.`);
    }
    renderCard(job);
    if (!ACTIVE.has(job.status)) trackActive();
  }

  function removeJob(id) {
    state.jobs.delete(id);
    const es = streams.get(id);
    if (es) es.close();
    streams.delete(id);
    const card = gallery.querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (card) card.remove();
    updateEmpty();
  }

  // Brings a new job's card into view (without moving focus), so its progress can be watched.
  function revealCard(id) {
    const card = gallery.querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (!card) return;
    const r = card.getBoundingClientRect();
    const header = document.querySelector('.topbar')?.offsetHeight || 0;
    if (r.top >= header && r.bottom <= window.innerHeight) return;
    const reduce = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    window.scrollTo({ top: Math.max(0, window.scrollY + r.top - header - 16), behavior: reduce ? 'auto' : 'smooth' });
  }

  function updateEmpty() {
    const n = state.jobs.size;
    $('#gallery-empty').hidden = n > 0;
    $('#gallery-count').textContent = n ? 'Newest first' : '';
  }

  function renderCard(job) {
    let card = gallery.querySelector(`[data-id="${CSS.escape(job.id)}"]`);
    const fresh = !card;
    if (fresh) {
      card = cardTemplate.content.firstElementChild.cloneNode(true);
      card.dataset.id = job.id;
    }
    const statusChanged = card.dataset.status !== job.status;
    card.dataset.status = job.status;
    card.setAttribute('aria-label', `${jobTitle(job)}, ${STATUS_WORDS[job.status] || job.status}`);

    $('.card-title', card).textContent = jobTitle(job);
    const pill = $('.pill', card);
    pill.textContent = STATUS_WORDS[job.status] || job.status;
    pill.className = `pill pill-${job.status}`;
    $('.card-sub', card).replaceChildren(...subtitle(job));

    const resultUrl = job.result?.image_url || '';
    if (statusChanged || fresh || card.dataset.result !== resultUrl) {
      card.dataset.result = resultUrl;
      renderMedia(job, $('.card-media', card));
      renderActions(job, $('.card-actions', card));
      $('.params', card).replaceChildren(...paramRows(job));
    }
    renderProgress(job, $('.card-progress', card));
    const errorBox = $('.card-error', card);
    if (job.status === 'failed') {
      errorBox.hidden = false;
      errorBox.textContent = plainError(job.error || { code: 'INTERNAL', message: 'the job failed without saying why' });
    } else {
      errorBox.hidden = true;
    }
    return card;
  }

  function subtitle(job) {
    const parts = [];
    parts.push(job.backend || job.params?.backend || '');
    if (job.status === 'succeeded' && job.duration_ms !== undefined) parts.push(formatDuration(job.duration_ms));
    const seed = seedOf(job);
    if (seed !== null) parts.push(`seed ${seed}`);
    const when = relativeTime(job.created_at);
    const out = [];
    parts.filter(Boolean).forEach((p, i) => {
      if (i) out.push(el('span', { class: 'sep', 'aria-hidden': 'true' }, '·'));
      out.push(el('span', {}, p));
    });
    if (when) {
      if (out.length) out.push(el('span', { class: 'sep', 'aria-hidden': 'true' }, '·'));
      out.push(el('time', { datetime: job.created_at, title: new Date(job.created_at).toLocaleString() }, when));
    }
    return out;
  }

  function renderMedia(job, media) {
    media.replaceChildren();
    media.className = 'card-media';
    const inputUrl = job.input?.image_url;
    const resultUrl = job.result?.image_url;
    const title = jobTitle(job);
    if (job.status === 'succeeded' && resultUrl && inputUrl) {
      media.append(compareSlider(job, inputUrl, resultUrl, title));
      return;
    }
    // A text-to-image job has no original: its result alone, or an empty frame until it exists.
    const fromText = !inputUrl;
    const shown = fromText ? (job.status === 'succeeded' ? resultUrl : null) : inputUrl;
    const img = el('img', {
      alt: fromText ? `Image made from text by the ${title.toLowerCase()} job` : `Original photo for the ${title.toLowerCase()} job`,
      loading: 'lazy',
      decoding: 'async',
    });
    if (shown) setImage(img, shown);
    media.append(img);
    media.classList.add(`media-${job.status}`);
    if (ACTIVE.has(job.status)) media.append(el('div', { class: 'media-shimmer', 'aria-hidden': 'true' }));
  }

  function compareSlider(job, inputUrl, resultUrl, title) {
    const before = el('img', { class: 'compare-before', alt: 'Before: the original photo', decoding: 'async', loading: 'lazy' });
    const after = el('img', { alt: `After: the ${title.toLowerCase()} result`, decoding: 'async', loading: 'lazy' });
    setImage(before, inputUrl);
    setImage(after, resultUrl);
    const range = el('input', {
      type: 'range',
      class: 'compare-range',
      min: '0',
      max: '100',
      value: '50',
      step: '1',
      'aria-label': `Before and after comparison for ${title}: move to reveal the original (left) or the result (right)`,
    });
    const box = el(
      'div',
      { class: 'compare', style: '--pos: 50%' },
      before,
      el('div', { class: 'compare-after' }, after),
      el('div', { class: 'compare-handle', 'aria-hidden': 'true' }, el('span', { class: 'compare-knob' })),
      el('span', { class: 'compare-tag compare-tag-before', 'aria-hidden': 'true' }, 'Before'),
      el('span', { class: 'compare-tag compare-tag-after', 'aria-hidden': 'true' }, 'After'),
      range,
    );
    range.addEventListener('input', () => box.style.setProperty('--pos', `${range.value}%`));
    return box;
  }

  function renderProgress(job, box) {
    if (!ACTIVE.has(job.status)) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.hidden = false;
    const p = job.progress || {};
    let line;
    let fraction = null;
    if (job.status === 'queued') {
      const pos = job.queue_position;
      if (job.cancel_requested) line = 'Canceling…';
      else if (pos === 0) line = 'Queued · next in line';
      else if (pos > 0) line = `Queued · ${pos} job${pos === 1 ? '' : 's'} ahead`;
      else line = 'Queued';
    } else {
      const bits = [stageWords(p.stage)];
      if (p.total > 0) {
        bits.push(`step ${Math.min(p.step, p.total)} of ${p.total}`);
        fraction = Math.min(1, p.step / p.total);
      }
      const eta = formatEta(p.eta_seconds);
      if (eta) bits.push(eta);
      if (job.cancel_requested) bits.push('canceling…');
      line = bits.join(' · ');
    }
    const text = el('p', { class: 'progress-text' }, line);
    const bar = el('div', {
      class: `progress-bar${fraction === null ? ' is-indeterminate' : ''}`,
      role: 'progressbar',
      'aria-label': `Progress of ${jobTitle(job)}`,
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-valuenow': fraction === null ? null : String(Math.round(fraction * 100)),
      'aria-valuetext': line,
    }, el('span', { class: 'progress-fill', style: fraction === null ? '' : `width:${(fraction * 100).toFixed(1)}%` }));
    box.replaceChildren(text, bar);
  }

  function paramRows(job) {
    const p = job.params || {};
    const m = job.meta || {};
    const rows = [];
    const add = (k, v) => {
      if (v === undefined || v === null || v === '') return;
      rows.push(el('div', { class: 'param' }, el('dt', {}, k), el('dd', {}, String(v))));
    };
    add('Style', p.style ? styleTitle(p.style) : null);
    add('Backend', job.backend || p.backend);
    add('Prompt', p.prompt);
    add('Negative prompt', p.negative_prompt);
    add('Strength', p.strength ?? (m.strength ? `${m.strength} (default)` : null));
    add('Steps', p.steps);
    add('Guidance', p.guidance);
    add('Sampler', p.sampler || m.sampler);
    add('Seed', seedOf(job));
    add('Model', p.model || m.model);
    for (const [k, v] of Object.entries(p.options || {})) {
      if (!k.endsWith('_image')) add(k.charAt(0).toUpperCase() + k.slice(1), v);
    }
    add('Size', m.size);
    add('Duration', job.duration_ms !== undefined ? formatDuration(job.duration_ms) : null);
    add('Attempts', job.attempts > 1 ? job.attempts : null);
    add('Created', job.created_at ? new Date(job.created_at).toLocaleString() : null);
    add('Job id', job.id);
    return rows;
  }

  function renderActions(job, box) {
    box.replaceChildren();
    const title = jobTitle(job);
    if (ACTIVE.has(job.status)) {
      box.append(
        el('button', {
          type: 'button',
          class: 'btn btn-ghost btn-small btn-danger-text',
          'aria-label': `Cancel ${title}`,
          onclick: (e) => cancelJob(job.id, e.currentTarget),
        }, 'Cancel'),
      );
      return;
    }
    if (job.status === 'succeeded' && job.result?.image_url) {
      const href = `${job.result.image_url}?download=1`;
      box.append(
        el('a', {
          class: 'btn btn-primary btn-small',
          href,
          download: `labhouse-${(job.params?.style || 'result')}-${job.id.slice(0, 8)}.png`,
          'aria-label': `Download the ${title.toLowerCase()} result`,
          onclick: (e) => {
            if (!state.apiKey) return;
            e.preventDefault();
            downloadWithKey(href, e.currentTarget.getAttribute('download'));
          },
        }, icon('download'), 'Download'),
      );
    }
    const seed = seedOf(job);
    box.append(
      el('button', {
        type: 'button',
        class: 'btn btn-ghost btn-small',
        title: seed !== null ? `Same settings and seed ${seed}` : 'Same settings',
        'aria-label': `Run ${title} again with the same settings${seed !== null ? ' and seed' : ''}`,
        onclick: (e) => runAgain(job, false, e.currentTarget),
      }, 'Run again'),
      el('button', {
        type: 'button',
        class: 'btn btn-ghost btn-small',
        title: 'Same settings, a new random seed',
        'aria-label': `Run ${title} again with a new seed`,
        onclick: (e) => runAgain(job, true, e.currentTarget),
      }, 'New seed'),
      el('button', {
        type: 'button',
        class: 'btn btn-ghost btn-small btn-danger-text btn-delete',
        title: 'Delete',
        'aria-label': `Delete ${title}`,
        onclick: (e) => deleteJob(job.id, e.currentTarget),
      }, icon('trash'), el('span', { class: 'btn-text' }, '')),
    );
  }

  const ICONS = {
    download: '<path d="M12 4v11m0 0-4.5-4.5M12 15l4.5-4.5M5 19.5h14" />',
    again: '<path d="M4.5 12a7.5 7.5 0 0 1 13-5.1L19.5 9M19.5 4.5V9H15M19.5 12a7.5 7.5 0 0 1-13 5.1L4.5 15M4.5 19.5V15H9" />',
    dice: '<rect x="4" y="4" width="16" height="16" rx="4"/><path d="M9 9h.01M15 15h.01M12 12h.01" stroke-width="2.6"/>',
    trash: '<path d="M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12" />',
  };
  function icon(name) {
    const span = el('span', { class: 'icon', 'aria-hidden': 'true' });
    span.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" focusable="false">${ICONS[name]}</svg>`;
    return span;
  }

  async function downloadWithKey(href, filename) {
    try {
      const blob = await fetchBlob(href);
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: filename });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      toast(plainError(err), 'error');
    }
  }

  async function cancelJob(id, button) {
    button.disabled = true;
    button.textContent = 'Canceling…';
    try {
      const job = await api(`jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      updateJob(job);
    } catch (err) {
      toast(plainError(err), 'error');
      button.disabled = false;
      button.textContent = 'Cancel';
    }
  }

  async function deleteJob(id, button) {
    // Two steps, so a stray click never loses a picture.
    if (button.dataset.armed !== '1') {
      button.dataset.armed = '1';
      button.classList.add('is-armed');
      const label = button.getAttribute('aria-label');
      $('.btn-text', button).textContent = 'Really delete?';
      button.setAttribute('aria-label', `Really delete? Press again to delete ${label.replace(/^Delete /, '')}`);
      setTimeout(() => {
        if (!button.isConnected) return;
        button.dataset.armed = '';
        button.classList.remove('is-armed');
        $('.btn-text', button).textContent = '';
        button.setAttribute('aria-label', label);
      }, 4000);
      return;
    }
    button.disabled = true;
    try {
      await api(`jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
      const title = jobTitle(state.jobs.get(id) || {});
      removeJob(id);
      announce(`${title} deleted.`);
      $('#gallery-heading').focus();
    } catch (err) {
      toast(plainError(err), 'error');
      button.disabled = false;
    }
  }

  async function runAgain(job, newSeed, button) {
    button.disabled = true;
    try {
      const p = job.params || {};
      const fd = new FormData();
      if (job.input?.image_url) {
        fd.append('image', await fetchBlob(job.input.image_url), 'input');
      } else {
        // Text-to-image: no photo to send again, only the size.
        fd.append('width', String(p.width));
        fd.append('height', String(p.height));
      }
      fd.append('backend', job.backend || p.backend || 'auto');
      for (const k of ['style', 'prompt', 'negative_prompt', 'sampler', 'model']) if (p[k]) fd.append(k, p[k]);
      for (const k of ['strength', 'steps', 'guidance']) if (p[k] !== undefined && p[k] !== null) fd.append(k, String(p[k]));
      const seed = newSeed ? String(randomSeed()) : seedOf(job);
      if (seed !== null) fd.append('seed', seed);
      for (const [k, v] of Object.entries(p.options || {})) {
        if (k.endsWith('_image')) fd.append(k, await fetchBlob(v), k);
        else if (k === 'engine' || k === 'effect') fd.append(k, v);
      }
      const created = await api('jobs', { method: 'POST', body: fd });
      addJob(created, { prepend: true });
      announce(`${jobTitle(created)} queued again${newSeed ? ' with a new seed' : ''}.`);
      revealCard(created.id);
    } catch (err) {
      toast(plainError(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  async function loadPage(cursor) {
    const more = $('#load-more');
    more.disabled = true;
    gallery.setAttribute('aria-busy', 'true');
    try {
      const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) q.set('cursor', cursor);
      const page = await api(`jobs?${q}`);
      for (const job of page.jobs || []) if (!state.jobs.has(job.id)) addJob(job);
      state.nextCursor = page.next_cursor || null;
      more.hidden = !state.nextCursor;
    } catch (err) {
      toast(`Could not load the gallery. ${plainError(err)}`, 'error');
    } finally {
      more.disabled = false;
      gallery.setAttribute('aria-busy', 'false');
      updateEmpty();
    }
  }
  $('#load-more').addEventListener('click', () => loadPage(state.nextCursor));

  // Relative times ("2 min ago") age while the page is open.
  setInterval(() => {
    for (const card of gallery.querySelectorAll('.card')) {
      const job = state.jobs.get(card.dataset.id);
      if (job) $('.card-sub', card).replaceChildren(...subtitle(job));
    }
  }, 60000);

  // ---------------------------------------------------------------- Start

  async function loadMeta() {
    const [backends, styles] = await Promise.all([api('backends'), api('styles')]);
    state.backends = backends.backends || [];
    state.styles = styles.styles || [];
    state.stylesByName = new Map(state.styles.map((s) => [s.name, s]));
    renderBackends();
    renderStyles();
  }

  async function refreshAll() {
    try {
      await loadMeta();
    } catch (err) {
      $('#style-grid').replaceChildren(el('p', { class: 'form-error-inline' }, `Could not load styles. ${plainError(err)}`));
    }
    for (const id of [...state.jobs.keys()]) removeJob(id);
    await loadPage(null);
  }

  async function start() {
    api('/healthz')
      .then((h) => {
        if (h && h.version) $('#version').textContent = `labhouse ${h.version}`;
      })
      .catch(() => {});
    await refreshAll();
    document.documentElement.classList.add('is-ready');
  }

  start();
})();
