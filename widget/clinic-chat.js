/*!
 * Clinic chat widget for the clinic assistant (Rasa). Plain JavaScript, no build step.
 *
 * Embed with one tag (every attribute but src is optional):
 *
 *   <script src="/widget/clinic-chat.js" defer
 *           data-server-url="http://localhost:5005"
 *           data-title="Example Skin Clinic"
 *           data-primary-color="#2f6f6a"
 *           data-greeting="Hi! Ask me about our treatments."></script>
 *
 * Also: data-config-url (JSON {"assistant_name", "clinic_name", "brand_colour",
 * "starter_questions"}, the clinic's settings; the web app serves /api/widget; an attribute
 * set on the tag wins over it), data-clinic-name, data-starter-questions (a JSON list; ""
 * shows none), data-primary-text-color, data-launcher-label, data-footnote ("" hides it),
 * data-sources-url (JSON {"<source file>": "<title>"}), data-transport ("rest": no socket.io),
 * data-socket-path (Rasa's socketio_path, default /socket.io). See README: Website chat widget.
 *
 * It loads clinic-chat.css and vendor/socket.io.min.js from beside itself, talks to Rasa's
 * socket.io channel, and falls back to the REST channel when sockets fail. The session id
 * the server issued, its token and the transcript are kept in localStorage, so a page
 * reload keeps the conversation.
 * Everything the bot or the patient wrote is rendered as text, never as HTML. Long answers
 * are shown as paragraphs; urgent advice (reply contract type "urgent") as a red banner with
 * tap-to-call buttons for the numbers in the reply's `call` field.
 */
(function () {
  "use strict";

  const SCRIPT = document.currentScript || document.querySelector('script[src*="clinic-chat.js"]');
  if (!SCRIPT || window.ClinicChat) {
    return; // not loaded as a script tag, or already on the page
  }

  const STORAGE_VERSION = 1;
  const MAX_TRANSCRIPT_ENTRIES = 200;
  const MAX_MESSAGE_LENGTH = 1000;
  // How long a message waits for the socket to be ready before going over REST instead.
  const SOCKET_GRACE_MS = 3000;
  // The typing indicator ends with the turn's reply payload; this bounds it if none comes.
  const TYPING_TIMEOUT_MS = 20000;
  const HUMAN_HANDOFF_PAYLOAD = "/request_human";
  const WEB_LINK = /^https?:\/\//i;
  // Web addresses, e-mail addresses and international phone numbers become links.
  const LINK_PATTERN = /https?:\/\/[^\s<>"']+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+\d[\d ]{6,}\d/gi;
  const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;
  const MAX_STARTER_QUESTIONS = 3;
  const MAX_CALL_BUTTONS = 4;
  const HEX_COLOUR = /^#[0-9a-f]{6}$/i;
  // What a `call` number may look like: "999", "+44 20 7946 0000", "(020) 7946-0000".
  const PHONE_NUMBER = /^\+?[\d() .-]*\d[\d() .-]*$/;
  // An answer longer than this with no line breaks is split into paragraphs of 2-3 sentences.
  const LONG_PARAGRAPH_CHARS = 300;
  const SENTENCES_PER_PARAGRAPH = 3;
  // A full stop, ! or ? (and any closing quote or bracket), a space, then a capital, a digit
  // or an opening quote: a sentence may end there ("1.5 ml" never matches: no space).
  const SENTENCE_END = /[.!?]+["'\u2019\u201d)\]]*\s+(?=["'\u2018\u201c(\[]?[A-Z0-9])/g;
  // ...unless the word before the full stop is an abbreviation or an initial ("e.g. PRP").
  const ABBREVIATION = /(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|Dr|Mr|Mrs|Ms|St)|\b[A-Za-z])\.$/i;

  // ------------------------------------------------------------------ configuration

  function readConfig(script) {
    const data = script.dataset;
    const serverUrl = (data.serverUrl || window.location.origin).replace(/\/+$/, "");
    return {
      serverUrl: serverUrl,
      socketPath: data.socketPath || "/socket.io",
      // "rest" skips socket.io altogether (e.g. behind a proxy that blocks it).
      transport: data.transport === "rest" ? "rest" : "auto",
      // Attributes on the tag win over the clinic settings (data-config-url), which win over
      // these defaults.
      title: data.title || "Clinic assistant",
      clinicName: data.clinicName || "",
      starterQuestions: starterList(data.starterQuestions) || [],
      configUrl: data.configUrl || "",
      fromTag: {
        title: Boolean(data.title),
        clinicName: data.clinicName !== undefined,
        starterQuestions: starterList(data.starterQuestions) !== null,
        primaryColor: Boolean(data.primaryColor),
        primaryTextColor: Boolean(data.primaryTextColor),
      },
      greeting: data.greeting || "",
      launcherLabel: data.launcherLabel || "Chat with us",
      footnote:
        data.footnote === undefined
          ? "Automated answers from the clinic's information, not medical advice."
          : data.footnote,
      primaryColor: data.primaryColor || "",
      primaryTextColor: data.primaryTextColor || "",
      sourcesUrl: data.sourcesUrl || "",
      storageKey: "clinic-chat:" + serverUrl,
    };
  }

  /** Starter questions from a JSON list (at most 3 strings); null when not given or invalid. */
  function starterList(value) {
    if (value === undefined) {
      return null;
    }
    if (Array.isArray(value)) {
      return value
        .filter((question) => typeof question === "string" && question.trim())
        .map((question) => question.trim().slice(0, MAX_MESSAGE_LENGTH))
        .slice(0, MAX_STARTER_QUESTIONS);
    }
    if (value.trim() === "") {
      return []; // data-starter-questions="" shows none
    }
    try {
      const parsed = JSON.parse(value);
      return Array.isArray(parsed) ? starterList(parsed) : null;
    } catch (error) {
      return null;
    }
  }

  /** The clinic settings (data-config-url) fill in what the tag's attributes did not set. */
  function mergeSettings(config, settings) {
    if (!settings || typeof settings !== "object") {
      return;
    }
    const text = (value) => (typeof value === "string" ? value.trim() : "");
    if (!config.fromTag.title && text(settings.assistant_name)) {
      config.title = text(settings.assistant_name);
    }
    if (!config.fromTag.clinicName && text(settings.clinic_name)) {
      config.clinicName = text(settings.clinic_name);
    }
    if (!config.fromTag.starterQuestions && Array.isArray(settings.starter_questions)) {
      config.starterQuestions = starterList(settings.starter_questions);
    }
    const colour = text(settings.brand_colour);
    if (!config.fromTag.primaryColor && HEX_COLOUR.test(colour)) {
      config.primaryColor = colour;
      if (!config.fromTag.primaryTextColor) {
        config.primaryTextColor = readableTextOn(colour);
      }
    }
  }

  /** White or near-black text, whichever reads better on the hex colour `background`. */
  function readableTextOn(background) {
    const channels = [1, 3, 5].map((start) => parseInt(background.slice(start, start + 2), 16) / 255);
    const [red, green, blue] = channels.map((value) =>
      value <= 0.03928 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4),
    );
    const luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue;
    // Contrast with white (1.05 / (L + 0.05)) against contrast with #1d2327 (~0.015 luminance).
    return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.065 ? "#ffffff" : "#1d2327";
  }

  function assetUrl(name) {
    return new URL(name, SCRIPT.src).href;
  }

  // ------------------------------------------------------------------ persistence

  function newSessionId() {
    // crypto.randomUUID exists only on https pages; getRandomValues works everywhere.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function createStore(key) {
    function load() {
      try {
        const saved = JSON.parse(window.localStorage.getItem(key) || "null");
        if (saved && saved.version === STORAGE_VERSION && typeof saved.sessionId === "string") {
          const transcript = Array.isArray(saved.transcript) ? saved.transcript : [];
          return {
            ...saved,
            // Only a token the server issued lets the socket continue this session.
            sessionToken: typeof saved.sessionToken === "string" ? saved.sessionToken : null,
            open: saved.open === true,
            transcript: transcript.filter(isEntry),
          };
        }
      } catch (error) {
        // Storage disabled or corrupt: start a new conversation.
      }
      // Until the server issues a session, this id is used over REST only (the REST channel
      // keeps its own conversations); the socket asks the server for a session.
      return {
        version: STORAGE_VERSION,
        sessionId: newSessionId(),
        sessionToken: null,
        open: false,
        transcript: [],
      };
    }

    function save(state) {
      state.transcript = state.transcript.slice(-MAX_TRANSCRIPT_ENTRIES);
      try {
        window.localStorage.setItem(key, JSON.stringify(state));
      } catch (error) {
        // Storage full or disabled: the conversation still works, it just won't survive a reload.
      }
    }

    return { load: load, save: save };
  }

  /** A transcript entry as the widget stores it (anything else in storage is dropped). */
  function isEntry(entry) {
    if (!entry || typeof entry !== "object") {
      return false;
    }
    if (entry.role === "sources") {
      return Array.isArray(entry.sources);
    }
    const buttonsOk = entry.buttons === undefined || Array.isArray(entry.buttons);
    const callsOk = entry.calls === undefined || Array.isArray(entry.calls);
    return (
      (entry.role === "bot" || entry.role === "user") &&
      typeof entry.text === "string" &&
      buttonsOk &&
      callsOk
    );
  }

  // ------------------------------------------------------------------ messages from Rasa

  /**
   * One bot message from either channel as {text, buttons, reply}.
   * REST gives {text, buttons, custom}; socket.io gives {text, quick_replies} or {custom}.
   */
  function normaliseBotMessage(message) {
    const offered = message && (message.buttons || message.quick_replies);
    const buttons = Array.isArray(offered) ? offered : [];
    const custom = message && message.custom;
    return {
      text: message && typeof message.text === "string" ? message.text : "",
      buttons: buttons
        .filter((button) => button && button.payload)
        .map((button) => ({
          title: String(button.title || button.payload),
          payload: String(button.payload),
        })),
      reply: custom && typeof custom.reply === "object" ? custom.reply : null,
    };
  }

  function answerSources(reply) {
    if (!reply || reply.type !== "answer" || !Array.isArray(reply.sources)) {
      return [];
    }
    return reply.sources.map(String);
  }

  /** The reply contract's `call` list as {label, number, href}; anything malformed is left out. */
  function callOptions(call) {
    if (!Array.isArray(call)) {
      return [];
    }
    return call
      .filter((option) => option && typeof option.number === "string")
      .filter((option) => PHONE_NUMBER.test(option.number))
      .slice(0, MAX_CALL_BUTTONS)
      .map((option) => ({
        label: typeof option.label === "string" && option.label ? option.label : "Call",
        number: option.number,
        kind: typeof option.kind === "string" ? option.kind : "",
        href: "tel:" + option.number.replace(/[^\d+]/g, ""),
      }));
  }

  /**
   * The paragraphs to show for a bot message: one per line of the text; a line longer than
   * LONG_PARAGRAPH_CHARS is split at sentence ends into paragraphs of 2-3 sentences.
   */
  function paragraphs(text) {
    return text
      .split(/\n+/)
      .map((line) => line.trim())
      .filter(Boolean)
      .flatMap((line) => (line.length > LONG_PARAGRAPH_CHARS ? groupSentences(line) : [line]));
  }

  function sentences(text) {
    const found = [];
    let start = 0;
    for (const match of text.matchAll(SENTENCE_END)) {
      const end = match.index + match[0].trimEnd().length;
      if (!ABBREVIATION.test(text.slice(start, end))) {
        found.push(text.slice(start, end));
        start = match.index + match[0].length;
      }
    }
    found.push(text.slice(start));
    return found.filter((sentence) => sentence.trim());
  }

  /** Sentences in even groups of at most SENTENCES_PER_PARAGRAPH (5 give 3 + 2, 4 give 2 + 2). */
  function groupSentences(text) {
    const all = sentences(text);
    const groups = Math.ceil(all.length / SENTENCES_PER_PARAGRAPH);
    const result = [];
    let start = 0;
    for (let group = 0; group < groups; group += 1) {
      const size = Math.ceil((all.length - start) / (groups - group));
      result.push(all.slice(start, start + size).join(" "));
      start += size;
    }
    return result;
  }

  // ------------------------------------------------------------------ channels

  function createRestChannel(config) {
    const url = config.serverUrl + "/webhooks/rest/webhook";

    return async function sendOverRest(sessionId, text) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: sessionId, message: text }),
      });
      if (!response.ok) {
        throw new Error("REST channel answered " + response.status);
      }
      const messages = await response.json();
      return Array.isArray(messages) ? messages : [];
    };
  }

  /** The vendored socket.io client; a page's own `window.io`, if any, is left as it was. */
  function loadSocketIoClient() {
    const pagesOwnIo = window.io;
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = assetUrl("vendor/socket.io.min.js");
      tag.async = true;
      tag.onload = () => {
        const io = window.io;
        if (pagesOwnIo !== undefined) {
          window.io = pagesOwnIo;
        }
        // Pages with an AMD loader get no window.io: the widget then uses REST only.
        typeof io === "function" && io !== pagesOwnIo ? resolve(io) : reject(new Error("no io()"));
      };
      tag.onerror = () => reject(new Error("could not load " + tag.src));
      document.head.append(tag);
    });
  }

  /**
   * Rasa's socket.io channel with server-issued sessions: on every (re)connection the client
   * asks to continue its session, with the token the server gave it; the server continues it
   * (the token is valid) or issues a new one, and sends "session_token" then
   * "session_confirm". So replies keep reaching it after a server restart.
   * `status` is "connecting", "connected" or "offline" (the last attempt failed).
   * `events.session()` is the stored {sessionId, sessionToken}; `events.onSession(id, token)`
   * stores what the server issued.
   */
  function createSocketChannel(io, config, events) {
    const socket = io(config.serverUrl, { path: config.socketPath, timeout: 8000 });
    let status = "connecting";
    let waiters = [];

    function setStatus(next) {
      status = next;
      events.onStatus(next);
      if (next !== "connecting") {
        waiters.forEach((resolve) => resolve(next === "connected"));
        waiters = [];
      }
    }

    socket.on("connect", () => {
      const session = events.session();
      // Without a valid token the server ignores the id and issues a new session.
      socket.emit("session_request", {
        session_id: session.sessionId,
        token: session.sessionToken,
      });
    });
    socket.on("session_token", (issued) => {
      if (issued && typeof issued.session_id === "string" && typeof issued.token === "string") {
        events.onSession(issued.session_id, issued.token);
      }
    });
    socket.on("session_confirm", (sessionId) => {
      if (typeof sessionId === "string" && sessionId !== events.session().sessionId) {
        events.onSession(sessionId, null); // a server that issues no tokens
      }
      setStatus("connected");
    });
    socket.on("connect_error", () => setStatus("offline"));
    socket.on("disconnect", (reason) => {
      setStatus("connecting");
      if (reason === "io server disconnect") {
        socket.connect(); // socket.io retries by itself after any other kind of disconnect
      }
    });
    socket.on("bot_uttered", (message) => events.onBotMessage(message));

    /** Resolves true when the session is confirmed, false if it fails or takes too long. */
    function ready(timeoutMs) {
      if (status !== "connecting") {
        return Promise.resolve(status === "connected");
      }
      return new Promise((resolve) => {
        waiters.push(resolve);
        setTimeout(() => resolve(status === "connected"), timeoutMs);
      });
    }

    function send(text) {
      // The server answers in the session it confirmed for this socket; session_id is sent
      // for Rasa's protocol only.
      socket.emit("user_uttered", { message: text, session_id: events.session().sessionId });
    }

    return { ready: ready, send: send, socket: socket };
  }

  // ------------------------------------------------------------------ DOM helpers

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (name === "text") {
        node.textContent = value;
      } else if (value === true) {
        node.setAttribute(name, "");
      } else if (value !== false && value !== null && value !== undefined) {
        node.setAttribute(name, value);
      }
    });
    (children || []).forEach((child) => node.append(child));
    return node;
  }

  function linkHref(matched) {
    if (WEB_LINK.test(matched)) {
      return matched;
    }
    return matched.includes("@") ? "mailto:" + matched : "tel:" + matched.replace(/\s+/g, "");
  }

  function link(matched) {
    const anchor = element("a", {
      href: linkHref(matched),
      rel: "noopener noreferrer",
      text: matched,
    });
    if (WEB_LINK.test(matched)) {
      anchor.target = "_blank"; // web pages open beside the chat; mail and phone links don't
    }
    return anchor;
  }

  /** Text nodes and <a> elements for `text`: never parsed as HTML. */
  function linkified(text) {
    const nodes = [];
    let position = 0;
    for (const match of text.matchAll(LINK_PATTERN)) {
      const matched = match[0].replace(TRAILING_PUNCTUATION, "");
      nodes.push(document.createTextNode(text.slice(position, match.index)));
      nodes.push(link(matched));
      position = match.index + matched.length;
    }
    nodes.push(document.createTextNode(text.slice(position)));
    return nodes;
  }

  function applyColours(host, config) {
    const colours = {
      "--cc-primary": config.primaryColor,
      "--cc-on-primary": config.primaryTextColor,
    };
    Object.entries(colours).forEach(([property, value]) => {
      if (value && window.CSS && CSS.supports("color", value)) {
        host.style.setProperty(property, value);
      }
    });
  }

  // ------------------------------------------------------------------ the widget

  function buildWidget(config) {
    const host = element("div", { class: "clinic-chat-host", "data-connection": "idle" });
    // A shadow root keeps the page's styles out of the widget and the widget's out of the page.
    const root = host.attachShadow({ mode: "open" });
    host.style.display = "none"; // until the stylesheet has loaded
    const stylesheet = element("link", { rel: "stylesheet", href: assetUrl("clinic-chat.css") });
    const styled = new Promise((resolve) => {
      stylesheet.onload = stylesheet.onerror = () => {
        host.style.removeProperty("display");
        resolve();
      };
    });
    applyColours(host, config);

    const launcher = element(
      "button",
      {
        class: "cc-launcher",
        type: "button",
        "aria-expanded": "false",
        "aria-controls": "cc-panel",
      },
      [launcherIcon(), element("span", { text: config.launcherLabel })],
    );

    const closeButton = element(
      "button",
      { class: "cc-close", type: "button", "aria-label": "Close chat" },
      [element("span", { "aria-hidden": "true", text: "\u00d7" })],
    );
    const title = element("h2", { class: "cc-title", id: "cc-title", text: config.title });
    const subtitle = element("p", { class: "cc-subtitle", id: "cc-subtitle" });
    const header = element("div", { class: "cc-header" }, [
      element("span", { class: "cc-avatar", "aria-hidden": "true" }, [assistantIcon()]),
      element("div", { class: "cc-heading" }, [title, subtitle]),
      closeButton,
    ]);
    const log = element("div", {
      class: "cc-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
      tabindex: "0", // so keyboard users can scroll it
    });
    const typing = element("div", { class: "cc-typing", role: "status", hidden: true }, [
      element("span", { class: "cc-dots", "aria-hidden": "true" }, [
        element("span"),
        element("span"),
        element("span"),
      ]),
      element("span", { class: "cc-visually-hidden", text: "The assistant is typing\u2026" }),
    ]);
    const humanButton = element("button", {
      class: "cc-chip cc-human",
      type: "button",
      text: "Talk to a person",
    });
    const input = element("input", {
      id: "cc-input",
      class: "cc-input",
      type: "text",
      autocomplete: "off",
      maxlength: String(MAX_MESSAGE_LENGTH),
      placeholder: "Type your question\u2026",
    });
    const sendButton = element(
      "button",
      { class: "cc-send", type: "submit", "aria-label": "Send" },
      [sendIcon()],
    );
    const form = element("form", { class: "cc-form" }, [
      element("label", { for: "cc-input", class: "cc-visually-hidden", text: "Your question" }),
      input,
      sendButton,
    ]);
    const panel = element(
      "div",
      {
        class: "cc-panel",
        id: "cc-panel",
        role: "dialog",
        "aria-labelledby": "cc-title",
        "aria-describedby": "cc-subtitle",
        hidden: true,
      },
      [
        header,
        log,
        typing,
        element("div", { class: "cc-actions" }, [humanButton]),
        form,
        config.footnote ? element("p", { class: "cc-footnote", text: config.footnote }) : "",
      ],
    );
    const container = element("div", { class: "cc" }, [panel, launcher]);
    root.append(stylesheet, container);

    return {
      host,
      styled,
      container,
      launcher,
      panel,
      closeButton,
      title,
      subtitle,
      log,
      typing,
      humanButton,
      form,
      input,
    };
  }

  function launcherIcon() {
    return svgIcon(
      "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    );
  }

  function assistantIcon() {
    // A speech bubble with three dots: a chat, not a person.
    return svgIcon(
      "M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.5 3.4 6L4.5 21l4.3-2.4c1 .3 2.1.4 3.2.4 5.5 0 10-3.6 " +
        "10-8s-4.5-8-10-8zM7.5 12.3a1.3 1.3 0 1 1 0-2.6 1.3 1.3 0 0 1 0 2.6zm4.5 0a1.3 1.3 0 1 1 " +
        "0-2.6 1.3 1.3 0 0 1 0 2.6zm4.5 0a1.3 1.3 0 1 1 0-2.6 1.3 1.3 0 0 1 0 2.6z",
    );
  }

  function warningIcon() {
    return svgIcon("M1 21h22L12 2 1 21zm12-3h-2v-2h2v2zm0-4h-2v-4h2v4z");
  }

  function phoneIcon() {
    return svgIcon(
      "M20 15.4c-1.2 0-2.4-.2-3.5-.6-.4-.1-.7 0-1 .3l-1.6 2c-2.8-1.4-5.5-3.9-6.9-6.8l2-1.7c.3-.3" +
        ".4-.7.2-1-.4-1.1-.6-2.3-.6-3.5 0-.6-.4-1-1-1H4.2C3.7 3 3 3.2 3 4c0 9.3 7.7 17 17 17 .7 0 " +
        "1-.6 1-1.2v-3.4c0-.6-.4-1-1-1z",
    );
  }

  function sendIcon() {
    return svgIcon("M3 20l18-8L3 4v6l12 2-12 2z");
  }

  function svgIcon(path) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const shape = document.createElementNS(ns, "path");
    shape.setAttribute("d", path);
    svg.append(shape);
    return svg;
  }

  function createChat(config) {
    const store = createStore(config.storageKey);
    const state = store.load();
    const ui = buildWidget(config);
    const sendOverRest = createRestChannel(config);
    let connecting = null;
    let sourceTitles = {};
    const renderedEntries = new WeakMap(); // transcript entry -> its node in the log
    let turnsAwaited = 0; // messages sent whose answer has not arrived yet
    let typingTimer = null;
    let outgoing = Promise.resolve(); // messages go out one after another, in order

    // ---------------------------------------------------------------- rendering

    function bubble(role, text) {
      const shown =
        role === "bot"
          ? paragraphs(text).map((paragraph) => element("p", {}, linkified(paragraph)))
          : [document.createTextNode(text)];
      return element("div", { class: "cc-message cc-" + role }, [
        element("span", {
          class: "cc-visually-hidden",
          text: role === "user" ? "You: " : "Assistant: ",
        }),
        ...shown,
      ]);
    }

    /** Urgent advice: a red banner with "Urgent" on top and a call button per number. */
    function urgentBanner(entry) {
      const node = bubble("bot", entry.text);
      node.classList.add("cc-urgent");
      const label = element("p", { class: "cc-urgent-label" }, [
        warningIcon(),
        element("span", { text: "Urgent" }),
      ]);
      node.firstChild.after(label); // after "Assistant: ", for screen readers too
      const calls = callOptions(entry.calls);
      if (calls.length) {
        const group = element("div", { class: "cc-calls", role: "group", "aria-label": "Call now" });
        calls.forEach((call) => {
          const number = call.label.includes(call.number)
            ? ""
            : element("span", { class: "cc-call-number", text: call.number });
          const text = element("span", { class: "cc-call-text" }, [
            element("span", { class: "cc-call-label", text: call.label }),
            number,
          ]);
          group.append(
            element(
              "a",
              { class: "cc-call cc-call-" + (call.kind || "other"), href: call.href },
              [phoneIcon(), text],
            ),
          );
        });
        node.append(group);
      }
      return node;
    }

    function starterQuestions() {
      const group = element("div", {
        class: "cc-starters",
        role: "group",
        "aria-label": "Suggested questions",
      });
      config.starterQuestions.forEach((question) => {
        const choice = element("button", { class: "cc-chip", type: "button", text: question });
        choice.addEventListener("click", () => send(question));
        group.append(choice);
      });
      return group;
    }

    /** The starter questions, until the patient's first message. */
    function showStarterQuestions() {
      ui.log.querySelectorAll(".cc-starters").forEach((group) => group.remove());
      const started = state.transcript.some((entry) => entry.role === "user");
      if (!started && config.starterQuestions.length) {
        appendToLog(starterQuestions());
      }
    }

    function quickReplies(buttons) {
      const group = element("div", {
        class: "cc-quick-replies",
        role: "group",
        "aria-label": "Suggested replies",
      });
      buttons.forEach((button) => {
        const choice = element("button", { class: "cc-chip", type: "button", text: button.title });
        choice.addEventListener("click", () => send(button.payload, button.title));
        group.append(choice);
      });
      return group;
    }

    function sourcesList(sources) {
      const items = sources.map((name) =>
        element("li", { "data-source": name, text: sourceTitles[name] || name }),
      );
      const details = element("details", { class: "cc-sources" }, [
        element("summary", { text: "Sources (" + sources.length + ")" }),
        element("ul", {}, items),
      ]);
      details.addEventListener("toggle", () => details.open && scrollIntoLog(details));
      return details;
    }

    function renderEntry(entry) {
      if (entry.role === "sources") {
        return sourcesList(entry.sources);
      }
      const node = entry.urgent ? urgentBanner(entry) : bubble(entry.role, entry.text);
      if (entry.buttons && entry.buttons.length) {
        node.append(quickReplies(entry.buttons));
      }
      return node;
    }

    /** Scroll the log (never the page) so that `node` is in view. */
    function scrollIntoLog(node) {
      const below = node.getBoundingClientRect().bottom - ui.log.getBoundingClientRect().bottom;
      if (below > 0) {
        ui.log.scrollTop += below + 8;
      }
    }

    function scrollToEnd() {
      ui.log.scrollTop = ui.log.scrollHeight;
    }

    function appendToLog(node) {
      ui.log.append(node);
      scrollToEnd();
    }

    function renderTranscript() {
      ui.log.replaceChildren();
      if (config.greeting) {
        appendToLog(bubble("bot", config.greeting));
      }
      state.transcript.forEach(showEntry);
      showStarterQuestions();
    }

    function showEntry(entry) {
      const node = renderEntry(entry);
      renderedEntries.set(entry, node);
      appendToLog(node);
    }

    function addEntry(entry) {
      state.transcript.push(entry);
      store.save(state);
      showEntry(entry);
    }

    /**
     * An urgent reply: its payload comes with the turn's last message, so the advice (the
     * turn's first message) becomes the banner now. The call-back questions that follow the
     * advice (`step` set, no numbers) stay plain messages.
     */
    function markUrgent(reply) {
      const calls = callOptions(reply.call);
      if (!calls.length && reply.step) {
        return;
      }
      let advice = null;
      for (let index = state.transcript.length - 1; index >= 0; index -= 1) {
        const entry = state.transcript[index];
        if (entry.role === "user") {
          break;
        }
        if (entry.role === "bot") {
          advice = entry;
        }
      }
      if (!advice) {
        return;
      }
      advice.urgent = true;
      advice.calls = calls;
      store.save(state);
      const shown = renderedEntries.get(advice);
      const banner = renderEntry(advice);
      renderedEntries.set(advice, banner);
      if (shown) {
        shown.replaceWith(banner);
      }
      scrollToEnd();
    }

    function showError() {
      appendToLog(
        element("p", {
          class: "cc-error",
          role: "alert",
          text: "Sorry, the assistant can't be reached right now. Please try again in a moment.",
        }),
      );
    }

    /** Old suggestions go once the patient says something else. */
    function removeQuickReplies() {
      const hadFocus = ui.log.contains(ui.host.shadowRoot.activeElement);
      ui.log
        .querySelectorAll(".cc-quick-replies, .cc-starters")
        .forEach((group) => group.remove());
      state.transcript.forEach((entry) => delete entry.buttons);
      if (hadFocus) {
        ui.input.focus(); // the clicked button is gone: keep keyboard users in the chat
      }
    }

    /** The typing indicator shows while any message sent is still waiting for its answer. */
    function setTurnsAwaited(count) {
      turnsAwaited = Math.max(0, count);
      ui.typing.hidden = turnsAwaited === 0;
      clearTimeout(typingTimer);
      if (turnsAwaited) {
        typingTimer = setTimeout(() => setTurnsAwaited(0), TYPING_TIMEOUT_MS);
      }
    }

    function setConnection(status) {
      ui.host.dataset.connection = status;
    }

    function showSettings() {
      ui.title.textContent = config.title;
      ui.subtitle.textContent = config.clinicName
        ? "Virtual assistant \u00b7 " + config.clinicName
        : "Virtual assistant";
      applyColours(ui.host, config);
      showStarterQuestions();
    }

    async function loadSettings() {
      if (!config.configUrl) {
        return;
      }
      try {
        const response = await fetch(config.configUrl);
        mergeSettings(config, response.ok ? await response.json() : null);
      } catch (error) {
        return; // the tag's attributes and the defaults stay
      }
      showSettings();
    }

    async function loadSourceTitles() {
      if (!config.sourcesUrl) {
        return;
      }
      try {
        const response = await fetch(config.sourcesUrl);
        const titles = response.ok ? await response.json() : null;
        sourceTitles = titles && typeof titles === "object" ? titles : {};
      } catch (error) {
        return; // file names are shown instead
      }
      ui.log.querySelectorAll("li[data-source]").forEach((item) => {
        item.textContent = sourceTitles[item.dataset.source] || item.dataset.source;
      });
    }

    // ---------------------------------------------------------------- conversation

    function receive(message) {
      const { text, buttons, reply } = normaliseBotMessage(message);
      if (text || buttons.length) {
        addEntry({ role: "bot", text: text, buttons: buttons });
      }
      const sources = answerSources(reply);
      if (sources.length) {
        addEntry({ role: "sources", sources: sources });
      }
      if (reply && reply.type === "urgent") {
        markUrgent(reply);
      }
      if (reply) {
        setTurnsAwaited(turnsAwaited - 1); // the reply payload ends every turn (the reply contract)
      }
    }

    function connect() {
      if (connecting) {
        return connecting;
      }
      loadSourceTitles();
      if (config.transport === "rest") {
        setConnection("rest");
        connecting = Promise.resolve(null);
        return connecting;
      }
      setConnection("connecting");
      connecting = loadSocketIoClient()
        .then((io) =>
          createSocketChannel(io, config, {
            onBotMessage: receive,
            onStatus: setConnection,
            session: () => ({ sessionId: state.sessionId, sessionToken: state.sessionToken }),
            onSession: (sessionId, token) => {
              state.sessionId = sessionId;
              state.sessionToken = token;
              store.save(state);
            },
          }),
        )
        .catch(() => {
          setConnection("offline"); // no socket.io client: REST only
          return null;
        });
      return connecting;
    }

    async function deliver(text) {
      const socket = await connect();
      if (socket && (await socket.ready(SOCKET_GRACE_MS))) {
        socket.send(text); // the answer arrives as bot_uttered events
        return;
      }
      const messages = await sendOverRest(state.sessionId, text);
      messages.forEach(receive);
    }

    /** Send `payload` to Rasa, showing `shownText` (a button's title) as the patient's words. */
    function send(payload, shownText) {
      const text = payload.trim().slice(0, MAX_MESSAGE_LENGTH);
      if (!text) {
        return;
      }
      removeQuickReplies();
      addEntry({ role: "user", text: shownText || text });
      setTurnsAwaited(turnsAwaited + 1);
      outgoing = outgoing
        .then(() => deliver(text))
        .catch(() => {
          setTurnsAwaited(turnsAwaited - 1);
          showError();
        });
    }

    // ---------------------------------------------------------------- opening and closing

    function setOpen(open) {
      state.open = open;
      store.save(state);
      ui.panel.hidden = !open;
      ui.launcher.setAttribute("aria-expanded", String(open));
      ui.container.classList.toggle("cc-open", open);
      scrollToEnd(); // a hidden log has no height to scroll
    }

    function open() {
      setOpen(true);
      connect();
      ui.input.focus();
    }

    function close() {
      setOpen(false);
      ui.launcher.focus();
    }

    ui.launcher.addEventListener("click", () => (state.open ? close() : open()));
    ui.closeButton.addEventListener("click", close);
    ui.container.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && state.open) {
        event.stopPropagation();
        close();
      }
    });
    ui.humanButton.addEventListener("click", () => send(HUMAN_HANDOFF_PAYLOAD, "Talk to a person"));
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(ui.input.value);
      ui.input.value = "";
    });

    document.body.append(ui.host);
    renderTranscript();
    showSettings();
    loadSettings(); // the clinic's settings replace the defaults when they arrive
    ui.styled.then(scrollToEnd);
    if (state.open) {
      setOpen(true);
      connect();
    }
    // splitParagraphs: how bot text is laid out, for pages (and tests) that show it elsewhere.
    return { open: open, close: close, send: send, splitParagraphs: paragraphs };
  }

  function start() {
    window.ClinicChat = createChat(readConfig(SCRIPT));
  }

  window.ClinicChat = { loading: true }; // a second copy of the tag does nothing
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
