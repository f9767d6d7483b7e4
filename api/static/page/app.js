/* podnex page: plain JavaScript with fetch, no build step, nothing inline (the page's
 * Content-Security-Policy forbids inline script and style).
 *
 * Every API call sends the key as `Authorization: Bearer`. Progress comes from the
 * server-sent event stream GET /api/v1/podcasts/{id}/events, read with fetch (EventSource
 * cannot send the header); where the stream cannot be used, GET …/status is polled once a
 * second instead (see `watch`).
 */
"use strict";

(() => {
  const KEY_STORAGE = "podnex.apiKey";
  const POLL_MS = 1000;
  const RECONNECT_MS = 1000; // before resuming a dropped stream, unless it sent `retry:`
  const RECONNECT_TRIES = 5; // failed reconnections in a row before falling back to polling
  const HISTORY_LIMIT = 5;
  const FILE_MAX_BYTES = 1024 * 1024;
  const RUNNING = new Set(["QUEUED", "PROCESSING"]);
  const RETRYABLE = new Set(["FAILED", "CANCELLED"]);

  const $ = (id) => document.getElementById(id);

  const state = {
    key: "",
    engines: [],
    current: null, // id of the podcast shown under "Now"
    watchToken: 0, // bumps when another podcast is shown, so an old poll or stream stops
    stream: null, // AbortController of the open event stream, if any
    trackUrl: null,
    page: 1,
    totalPages: 1,
  };

  // -- API ------------------------------------------------------------------------------

  class ApiFailure extends Error {
    constructor(status, body, headers) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
      this.headers = headers || new Headers();
    }
  }

  async function call(method, path, body, accept = "application/json") {
    if (!state.key) {
      throw new ApiFailure(401, { error: "Enter your API key first." });
    }
    const headers = { Authorization: `Bearer ${state.key}`, Accept: accept };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiFailure(0, { error: "Could not reach the server. Is it running?" });
    }
    const type = response.headers.get("content-type") || "";
    let data = null;
    if (type.includes("json")) {
      data = await response.json().catch(() => null);
    } else {
      data = await response.text();
    }
    if (!response.ok) {
      throw new ApiFailure(response.status, typeof data === "object" ? data : null, response.headers);
    }
    return { status: response.status, data };
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function limitText(value) {
    return value === null || value === undefined ? "unlimited" : String(value);
  }

  /** What to tell the person about a failed call: a sentence and optional list items. */
  function describe(err) {
    if (!(err instanceof ApiFailure)) {
      return { text: `Something went wrong: ${err && err.message ? err.message : err}`, items: [] };
    }
    const body = err.body || {};
    const error = body.error || "";
    switch (err.status) {
      case 0:
        return { text: error, items: [] };
      case 400: {
        const items = Array.isArray(body.details)
          ? body.details.map((d) => `${d.field}: ${d.message}`)
          : [];
        return { text: `The request was refused (400): ${error}`, items };
      }
      case 401:
        return {
          text: "The API key was not accepted (401). Check it, or create one with "
            + "`podnex keys create`.",
          items: [],
        };
      case 403: {
        const d = body.details || {};
        if (body.code === "SUBSCRIPTION_LIMIT_REACHED") {
          const current = d.current || {};
          const limits = d.limits || {};
          return {
            text: `Your plan's limit is reached (403): ${d.reason || error}.`,
            items: [
              `Podcasts this month: ${current.podcasts ?? 0} of ${limitText(limits.podcasts)}`,
              `Minutes this month: ${current.minutes ?? 0} of ${limitText(limits.minutes)}`,
            ],
          };
        }
        return { text: `Not allowed (403): ${error}`, items: [] };
      }
      case 404:
        return { text: `Not found (404): ${error}`, items: [] };
      case 409:
        return { text: `Not now (409): ${error}`, items: [] };
      case 413:
        return { text: `Too large (413): ${error}`, items: [] };
      case 429: {
        const wait = err.headers.get("Retry-After");
        return {
          text: `Too many requests (429). ${wait ? `Try again in ${plural(Number(wait), "second", "seconds")}.` : "Try again shortly."}`,
          items: [],
        };
      }
      case 503:
        return {
          text: `The service is unavailable right now (503): ${error || "try again shortly."}`,
          items: [],
        };
      default:
        return { text: `The server answered ${err.status}: ${error}`, items: [] };
    }
  }

  // -- messages -------------------------------------------------------------------------

  function show(kind, text, items = []) {
    const box = $("message");
    box.className = kind;
    box.replaceChildren(document.createTextNode(text));
    if (items.length) {
      const list = document.createElement("ul");
      for (const item of items) {
        const li = document.createElement("li");
        li.textContent = item;
        list.append(li);
      }
      box.append(list);
    }
    box.hidden = false;
    if (kind === "error") {
      box.scrollIntoView({ block: "nearest" });
    }
  }

  function showError(err) {
    const { text, items } = describe(err);
    show("error", text, items);
  }

  function clearMessage() {
    const box = $("message");
    box.hidden = true;
    box.replaceChildren();
  }

  // -- the key --------------------------------------------------------------------------

  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch (err) {
      return "";
    }
  }

  function rememberKey(key) {
    try {
      if (key && $("remember-key").checked) {
        localStorage.setItem(KEY_STORAGE, key);
      } else {
        localStorage.removeItem(KEY_STORAGE);
      }
    } catch (err) {
      /* storage refused (private mode): the key lives in memory only */
    }
  }

  async function useKey(key) {
    state.key = key;
    rememberKey(key);
    if (!key) {
      $("key-status").textContent = "No key: enter one to start.";
      return;
    }
    $("key-status").textContent = "Checking the key…";
    try {
      await loadVoices();
      $("key-status").textContent = "Key accepted.";
      clearMessage();
      await loadHistory();
    } catch (err) {
      $("key-status").textContent = "The key could not be used.";
      showError(err);
    }
  }

  // -- voices ---------------------------------------------------------------------------

  async function loadVoices() {
    const { data } = await call("GET", "/api/v1/voices");
    state.engines = data.data;
    const engine = $("engine");
    engine.replaceChildren();
    for (const e of state.engines) {
      engine.append(new Option(e.ttsProvider, e.ttsProvider, e.default, e.default));
    }
    fillVoices();
  }

  function voiceLabel(v) {
    const bits = [v.accent, v.gender].filter(Boolean).join(", ");
    return bits ? `${v.name} (${bits})` : v.name;
  }

  function fillVoices() {
    const engine = state.engines.find((e) => e.ttsProvider === $("engine").value);
    const voices = engine ? engine.voices : [];
    for (const [id, index] of [["host-voice", 0], ["guest-voice", 1]]) {
      const select = $(id);
      select.replaceChildren();
      voices.forEach((v, i) => {
        const chosen = i === Math.min(index, voices.length - 1);
        select.append(new Option(voiceLabel(v), v.name, chosen, chosen));
      });
    }
    checkVoices();
  }

  function checkVoices() {
    const same = $("host-voice").value !== "" && $("host-voice").value === $("guest-voice").value;
    $("voice-error").textContent = same ? "Host and guest must be different voices." : "";
    $("guest-voice").setAttribute("aria-invalid", same ? "true" : "false");
    return !same;
  }

  // -- notes ----------------------------------------------------------------------------

  function countNotes() {
    const n = $("notes").value.length;
    $("notes-count").textContent = `${n.toLocaleString()} characters (100 to 50,000)`;
  }

  async function takeFile(file) {
    if (!file) {
      return;
    }
    if (!/\.(md|markdown|txt)$/i.test(file.name)) {
      show("error", `${file.name} is not a .md or .txt file.`);
      return;
    }
    if (file.size > FILE_MAX_BYTES) {
      show("error", `${file.name} is larger than 1 MB.`);
      return;
    }
    $("notes").value = await file.text();
    if (!$("title").value.trim()) {
      $("title").value = file.name.replace(/\.(md|markdown|txt)$/i, "").slice(0, 200);
    }
    countNotes();
    show("info", `Notes read from ${file.name}.`);
  }

  // -- create ---------------------------------------------------------------------------

  function createBody() {
    const body = {
      noteContent: $("notes").value,
      duration: $("duration").value,
      hostVoice: $("host-voice").value || undefined,
      guestVoice: $("guest-voice").value || undefined,
      ttsProvider: $("engine").value || undefined,
    };
    for (const [field, id] of [["title", "title"], ["language", "language"], ["instructions", "instructions"]]) {
      const value = $(id).value.trim();
      if (value) {
        body[field] = value;
      }
    }
    return body;
  }

  async function create(event) {
    event.preventDefault();
    if (!checkVoices()) {
      $("guest-voice").focus();
      return;
    }
    const button = $("create-button");
    button.disabled = true;
    show("info", "Sending…");
    try {
      const { status, data } = await call("POST", "/api/v1/podcasts", createBody());
      const podcast = data.data;
      show(
        "info",
        status === 202
          ? "Accepted: waiting for a worker to admit it."
          : "Created: the podcast is being made.",
      );
      watch(podcast);
      loadHistory();
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  // -- progress -------------------------------------------------------------------------

  function stepText(s) {
    const bits = [];
    if (s.currentStep) {
      bits.push(s.currentStep.replaceAll("_", " "));
    }
    if (s.linesTotal) {
      bits.push(`lines ${s.linesDone}/${s.linesTotal}`);
    }
    return bits.length ? `(${bits.join(", ")})` : "";
  }

  function render(s) {
    $("current-status").textContent = s.status;
    $("current-step").textContent = stepText(s);
    $("current-progress").value = s.progress;
    $("current-progress").textContent = `${s.progress}%`;
    $("progress-text").textContent = s.status === "FAILED" && s.error
      ? `Failed: ${s.error}`
      : `${s.status}: ${s.progress}%`;
    $("current-cancel").hidden = !RUNNING.has(s.status);
    $("current-retry").hidden = !RETRYABLE.has(s.status);
  }

  /** Apply one /status object `s`; true when the podcast has finished (nothing more comes). */
  async function advance(watching, s) {
    render(s);
    if (s.status !== watching.last && !RUNNING.has(s.status)) {
      loadHistory();
    }
    watching.last = s.status;
    if (s.status === "COMPLETED") {
      await loadPlayer(watching.id);
      return true;
    }
    return !RUNNING.has(s.status);
  }

  /** Stop following the podcast shown (its stream is closed, its polling ends). */
  function stopWatching() {
    state.watchToken++;
    if (state.stream) {
      state.stream.abort();
      state.stream = null;
    }
  }

  /** A server-sent events parser (the WHATWG rules that matter here): feed it decoded text
   * in chunks of any size; it calls `onEvent({type, data, id})` for each complete event,
   * skips comments (`: heartbeat`) and keeps the last event id and `retry:` it was sent. */
  function sseParser(onEvent) {
    const parser = { lastId: null, retry: null };
    let buffer = "";
    let data = [];
    let type = "";

    function dispatch() {
      if (data.length) {
        onEvent({ type: type || "message", data: data.join("\n"), id: parser.lastId });
      }
      data = [];
      type = "";
    }

    function line(text) {
      if (text === "") {
        dispatch();
        return;
      }
      if (text[0] === ":") {
        return; // a comment: the heartbeat
      }
      const colon = text.indexOf(":");
      const name = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value[0] === " ") {
        value = value.slice(1);
      }
      if (name === "event") {
        type = value;
      } else if (name === "data") {
        data.push(value);
      } else if (name === "id" && !value.includes("\0")) {
        parser.lastId = value;
      } else if (name === "retry" && /^\d+$/.test(value)) {
        parser.retry = Number(value);
      }
    }

    parser.feed = (chunk) => {
      buffer += chunk;
      let from = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== "\n" && c !== "\r") {
          continue;
        }
        if (c === "\r" && i + 1 === buffer.length) {
          break; // a \r\n may be split between chunks: wait for the next one
        }
        line(buffer.slice(from, i));
        if (c === "\r" && buffer[i + 1] === "\n") {
          i++;
        }
        from = i + 1;
      }
      buffer = buffer.slice(from);
    };
    return parser;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Follow the podcast with GET …/events. Resolves "done" when it finished (its final
   * event came, or a 204 says it was already seen), "stopped" when another podcast is shown,
   * "poll" when the stream cannot be used: a browser without response body streams, an
   * answer other than 200 with an event stream or 204, or a connection that keeps failing.
   * A stream that ends or drops before its final event is resumed with `Last-Event-ID`. */
  async function stream(watching, token) {
    if (typeof TextDecoder === "undefined" || typeof AbortController === "undefined") {
      return "poll";
    }
    let finished = false;
    let failures = 0;
    let opened = false;
    const parser = sseParser((event) => {
      if ((event.type === "progress" || event.type === "final") && token === state.watchToken) {
        watching.queue.push(event);
      }
    });
    while (token === state.watchToken) {
      const controller = new AbortController();
      state.stream = controller;
      const headers = { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" };
      if (parser.lastId !== null) {
        headers["Last-Event-ID"] = parser.lastId;
      }
      try {
        const response = await fetch(`/api/v1/podcasts/${watching.id}/events`, {
          headers,
          cache: "no-store",
          signal: controller.signal,
        });
        if (response.status === 204) {
          return "done"; // the final event was already seen
        }
        const type = response.headers.get("content-type") || "";
        const body = response.body;
        if (response.status !== 200 || !type.includes("text/event-stream")
          || !body || typeof body.getReader !== "function") {
          controller.abort();
          return "poll";
        }
        opened = true;
        const reader = body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done || token !== state.watchToken) {
            break;
          }
          parser.feed(decoder.decode(value, { stream: true }));
          while (watching.queue.length && !finished) {
            const event = watching.queue.shift();
            failures = 0;
            let s;
            try {
              s = JSON.parse(event.data);
            } catch (err) {
              continue;
            }
            let ended;
            try {
              ended = await advance(watching, s);
            } catch (err) {
              showError(err); // the player could not be loaded: the run is over all the same
              ended = true;
            }
            finished = ended || event.type === "final";
          }
          if (finished) {
            controller.abort();
            return "done";
          }
        }
      } catch (err) {
        if (token !== state.watchToken) {
          return "stopped";
        }
        if (!opened) {
          return "poll"; // never connected: polling says what is wrong
        }
      } finally {
        if (state.stream === controller) {
          state.stream = null;
        }
      }
      // the stream ended or dropped before its final event: resume after the last one seen
      failures++;
      if (failures > RECONNECT_TRIES) {
        return "poll";
      }
      await sleep(parser.retry ?? RECONNECT_MS);
    }
    return "stopped";
  }

  /** Follow the podcast by polling GET …/status once a second. */
  async function poll(watching, token) {
    while (token === state.watchToken) {
      try {
        const { data } = await call("GET", `/api/v1/podcasts/${watching.id}/status`);
        if (token !== state.watchToken) {
          return;
        }
        if (await advance(watching, data.data)) {
          return;
        }
      } catch (err) {
        showError(err);
        if (err.status === 404 || err.status === 401) {
          return;
        }
      }
      await sleep(POLL_MS);
    }
  }

  /** Show `podcast` under "Now" and follow it until it finishes: with the event stream
   * (GET …/events), else by polling GET …/status. */
  async function watch(podcast) {
    stopWatching();
    const token = state.watchToken;
    state.current = podcast.id;
    $("current").hidden = false;
    $("current-title").textContent = podcast.title || "(untitled)";
    $("player").hidden = true;
    render(podcast);
    const watching = { id: podcast.id, last: podcast.status, queue: [] };
    if ((await stream(watching, token)) === "poll") {
      await poll(watching, token);
    }
  }

  // -- the player and its transcript ----------------------------------------------------

  function clearTrack() {
    const audio = $("audio");
    for (const track of audio.querySelectorAll("track")) {
      track.remove();
    }
    if (state.trackUrl) {
      URL.revokeObjectURL(state.trackUrl);
      state.trackUrl = null;
    }
    $("transcript").replaceChildren();
    $("caption").textContent = "";
  }

  function cueParts(cue) {
    const fragment = cue.getCueAsHTML();
    const voice = fragment.querySelector ? fragment.querySelector("[title]") : null;
    return { speaker: voice ? voice.title : "", text: fragment.textContent.trim() };
  }

  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function listCues(track) {
    const list = $("transcript");
    list.replaceChildren();
    for (const cue of Array.from(track.cues || [])) {
      const { speaker, text } = cueParts(cue);
      const li = document.createElement("li");
      li.dataset.cue = cue.id || String(cue.startTime);
      const who = document.createElement("span");
      who.className = "speaker";
      who.textContent = speaker ? `${speaker}: ` : "";
      const time = document.createElement("span");
      time.className = "help";
      time.textContent = ` [${clock(cue.startTime)}]`;
      li.append(who, document.createTextNode(text), time);
      list.append(li);
    }
  }

  function highlight(track) {
    const active = Array.from(track.activeCues || []);
    const keys = new Set(active.map((cue) => cue.id || String(cue.startTime)));
    for (const li of $("transcript").children) {
      const on = keys.has(li.dataset.cue);
      li.classList.toggle("current", on);
      if (on) {
        li.setAttribute("aria-current", "true");
        li.scrollIntoView({ block: "nearest" });
      } else {
        li.removeAttribute("aria-current");
      }
    }
    $("caption").textContent = active.length
      ? active.map((cue) => {
        const { speaker, text } = cueParts(cue);
        return speaker ? `${speaker}: ${text}` : text;
      }).join(" ")
      : "";
  }

  async function loadPlayer(id) {
    clearTrack();
    const audio = $("audio");
    const { data } = await call("GET", `/api/v1/podcasts/${id}/download`);
    const link = data.data;
    audio.dataset.apiDuration = link.audioDuration ?? "";
    audio.src = link.url;
    $("download").href = link.url;
    $("player").hidden = false;
    try {
      const { data: vtt } = await call("GET", `/api/v1/podcasts/${id}/transcript?format=vtt`, undefined, "text/vtt");
      state.trackUrl = URL.createObjectURL(new Blob([vtt], { type: "text/vtt" }));
      const track = document.createElement("track");
      track.kind = "captions";
      track.label = "Transcript";
      track.srclang = "en";
      track.default = true;
      track.src = state.trackUrl;
      track.addEventListener("load", () => listCues(track.track));
      track.track.addEventListener("cuechange", () => highlight(track.track));
      audio.append(track);
      track.track.mode = "hidden";
    } catch (err) {
      showError(err);
    }
  }

  // -- actions --------------------------------------------------------------------------

  async function cancel(id) {
    try {
      const { status, data } = await call("POST", `/api/v1/podcasts/${id}/cancel`);
      show("info", status === 202 ? "Cancelling: the run is stopping." : "Cancelled.");
      if (id === state.current) {
        watch(data.data);
      }
    } catch (err) {
      showError(err);
    }
    loadHistory();
  }

  async function retry(id) {
    try {
      const { status, data } = await call("POST", `/api/v1/podcasts/${id}/retry`);
      show("info", status === 202 ? "Retry accepted: waiting for a worker." : "Retrying.");
      watch(data.data.podcast);
    } catch (err) {
      showError(err);
    }
    loadHistory();
  }

  async function remove(id, title) {
    if (!window.confirm(`Delete ${title}? Its audio is removed too.`)) {
      return;
    }
    try {
      await call("DELETE", `/api/v1/podcasts/${id}`);
      show("info", `Deleted ${title}.`);
      if (id === state.current) {
        stopWatching();
        state.current = null;
        clearTrack();
        $("audio").removeAttribute("src");
        $("current").hidden = true;
      }
    } catch (err) {
      showError(err);
    }
    loadHistory();
  }

  async function open(id) {
    try {
      const { data } = await call("GET", `/api/v1/podcasts/${id}`);
      await watch(data.data);
    } catch (err) {
      showError(err);
    }
  }

  // -- history --------------------------------------------------------------------------

  function titleOf(p) {
    if (p.title) {
      return p.title;
    }
    const text = p.noteContent.replace(/\s+/g, " ").trim();
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  }

  function button(text, label, className, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function historyItem(p) {
    const li = document.createElement("li");
    const title = titleOf(p);
    const name = document.createElement("p");
    name.className = "podcast-title";
    name.textContent = title;
    const meta = document.createElement("p");
    meta.className = "meta";
    const status = document.createElement("span");
    status.className = `status status-${p.status}`;
    status.textContent = p.status;
    const length = p.audioDuration != null ? clock(p.audioDuration) : p.duration.toLowerCase();
    const created = new Date(p.createdAt).toLocaleString();
    meta.append(status, document.createTextNode(` · ${length} · created ${created}`));
    const actions = document.createElement("div");
    actions.className = "row";
    actions.append(button("Open", `Open ${title}`, "secondary", () => open(p.id)));
    if (RUNNING.has(p.status)) {
      actions.append(button("Cancel", `Cancel ${title}`, "secondary", () => cancel(p.id)));
    }
    if (RETRYABLE.has(p.status)) {
      actions.append(button("Retry", `Retry ${title}`, "secondary", () => retry(p.id)));
    }
    actions.append(button("Delete", `Delete ${title}`, "danger", () => remove(p.id, title)));
    li.append(name, meta, actions);
    li.dataset.id = p.id;
    li.dataset.status = p.status;
    return li;
  }

  async function loadHistory() {
    if (!state.key) {
      return;
    }
    const params = new URLSearchParams({ page: String(state.page), limit: String(HISTORY_LIMIT) });
    const status = $("history-status").value;
    if (status) {
      params.set("status", status);
    }
    try {
      const { data } = await call("GET", `/api/v1/podcasts?${params}`);
      const { total, totalPages } = data.pagination;
      state.totalPages = Math.max(1, totalPages);
      if (state.page > state.totalPages) {
        state.page = state.totalPages;
        return loadHistory();
      }
      $("history").replaceChildren(...data.data.map(historyItem));
      $("history-summary").textContent = total
        ? `${plural(total, "podcast", "podcasts")}${status ? ` ${status.toLowerCase()}` : ""}.`
        : "No podcasts yet.";
      $("page-info").textContent = `Page ${state.page} of ${state.totalPages}`;
      $("prev-page").disabled = state.page <= 1;
      $("next-page").disabled = state.page >= state.totalPages;
    } catch (err) {
      showError(err);
    }
    return undefined;
  }

  // -- wiring ---------------------------------------------------------------------------

  function wire() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      useKey($("api-key").value.trim());
    });
    $("forget-key").addEventListener("click", () => {
      $("api-key").value = "";
      state.key = "";
      rememberKey("");
      $("key-status").textContent = "Key forgotten.";
    });
    $("remember-key").addEventListener("change", () => rememberKey(state.key));
    $("create-form").addEventListener("submit", create);
    $("notes").addEventListener("input", countNotes);
    $("engine").addEventListener("change", fillVoices);
    $("host-voice").addEventListener("change", checkVoices);
    $("guest-voice").addEventListener("change", checkVoices);
    $("notes-file").addEventListener("change", () => takeFile($("notes-file").files[0]));
    const drop = $("drop");
    drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      takeFile(event.dataTransfer.files[0]);
    });
    $("current-cancel").addEventListener("click", () => state.current && cancel(state.current));
    $("current-retry").addEventListener("click", () => state.current && retry(state.current));
    $("history-form").addEventListener("submit", (event) => {
      event.preventDefault();
      state.page = 1;
      loadHistory();
    });
    $("history-status").addEventListener("change", () => {
      state.page = 1;
      loadHistory();
    });
    $("prev-page").addEventListener("click", () => {
      state.page = Math.max(1, state.page - 1);
      loadHistory();
    });
    $("next-page").addEventListener("click", () => {
      state.page = Math.min(state.totalPages, state.page + 1);
      loadHistory();
    });
  }

  function start() {
    wire();
    countNotes();
    const key = storedKey();
    $("api-key").value = key;
    $("prev-page").disabled = true;
    $("next-page").disabled = true;
    useKey(key);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
