// The front-desk inbox in the browser (webapp/staff.py renders the page; this only adds to it,
// and the page works without it): new tickets appear without a reload, a cue when an urgent
// one arrives, "new" marks since this browser's last look, and keyboard shortcuts.
// Served as a file from the web app: the page's policy allows no inline script.
"use strict";

(() => {
  const POLL_MS = 5000;
  const LAST_SEEN_KEY = "clinic-staff-last-seen"; // the newest ticket id this browser showed
  const NEW_IDS_KEY = "clinic-staff-new"; // ids still marked new in this tab
  const SELECT_NEXT_KEY = "clinic-staff-select-next"; // after c/x: the ticket to select
  const STATUS_RANK = { open: 0, contacted: 1, closed: 2 };
  const URGENCY_RANK = { urgent: 0, soon: 1, routine: 2 };

  const list = document.getElementById("tickets");
  if (!list) return; // the sign-in page
  const baseTitle = document.title;
  const page = Number(list.dataset.page || "1");
  const query = list.dataset.query || "";
  let latestId = Number(list.dataset.latestId || "0");
  let urgentArrived = 0;
  let waitingElsewhere = 0; // new tickets while on a later page
  let audio = null;
  let polling = null;

  // -- storage that may be unavailable (private mode, policy): never let it break the page

  function read(storage, key) {
    try {
      return storage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function write(storage, key, value) {
    try {
      storage.setItem(key, value);
    } catch (error) {
      /* the marks just do not survive a reload */
    }
  }

  // -- tickets ----------------------------------------------------------------------------

  function tickets() {
    return Array.from(list.querySelectorAll("article.ticket"));
  }

  function rank(article) {
    return (
      (STATUS_RANK[article.dataset.status] ?? 3) * 10 + (URGENCY_RANK[article.dataset.urgency] ?? 3)
    );
  }

  function markNew(article) {
    article.classList.add("is-new");
    const flag = article.querySelector(".new-flag");
    if (flag) flag.hidden = false;
  }

  function newIds() {
    try {
      return new Set(JSON.parse(read(sessionStorage, NEW_IDS_KEY) || "[]"));
    } catch (error) {
      return new Set();
    }
  }

  function rememberNew(ids) {
    write(sessionStorage, NEW_IDS_KEY, JSON.stringify(Array.from(ids)));
  }

  function markNewSinceLastLook() {
    const stored = read(localStorage, LAST_SEEN_KEY);
    // The first visit from this browser: nothing to compare with, so nothing is "new".
    const lastSeen = stored === null ? latestId : Number(stored) || 0;
    const marked = newIds();
    for (const article of tickets()) {
      const id = Number(article.dataset.id);
      if (article.dataset.status === "open" && (id > lastSeen || marked.has(id))) {
        markNew(article);
        marked.add(id);
      } else {
        marked.delete(id);
      }
    }
    rememberNew(marked);
    write(localStorage, LAST_SEEN_KEY, String(Math.max(lastSeen, latestId)));
  }

  function insert(article) {
    const placed = rank(article);
    const all = tickets();
    const later = all.find((other) => rank(other) > placed);
    const status = article.dataset.status;
    if (later) {
      const before = later.previousElementSibling;
      // The first ticket of another group: go above that group's heading.
      const anchor =
        before && before.matches("h2.group") && before.dataset.group !== status ? before : later;
      anchor.before(article);
    } else {
      const same = all.filter((other) => other.dataset.status === status);
      const heading = list.querySelector(`h2.group[data-group="${status}"]`);
      if (same.length) same[same.length - 1].after(article);
      else if (heading) heading.after(article);
      else list.prepend(article);
    }
    const empty = list.querySelector(`[data-empty="${status}"]`);
    if (empty) empty.remove();
  }

  function fromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html; // escaped by the server; scripts in it would never run
    return template.content.firstElementChild;
  }

  function updateCounts(counts) {
    for (const [status, count] of Object.entries(counts || {})) {
      const link = document.querySelector(`[data-count="${status}"] b`);
      if (link) link.textContent = String(count);
    }
  }

  // "1 to 26 of 40 tickets" once new ones are on the page.
  function updateShown(added, insertedHere) {
    const shown = document.getElementById("shown");
    if (!shown || !added) return;
    const first = Number(shown.dataset.first || "1");
    const count = Number(shown.dataset.shown || "0") + insertedHere;
    const total = Number(shown.dataset.total || "0") + added;
    shown.dataset.shown = String(count);
    shown.dataset.total = String(total);
    shown.textContent = count
      ? `${first} to ${first + count - 1} of ${total} ticket${total === 1 ? "" : "s"}`
      : `${total} ticket${total === 1 ? "" : "s"}`;
  }

  function announce(text) {
    const banner = document.getElementById("arrived");
    if (!banner) return;
    banner.textContent = "";
    banner.append(text);
    banner.hidden = false;
  }

  function announceElsewhere() {
    const banner = document.getElementById("arrived");
    if (!banner) return;
    const link = document.createElement("a");
    link.href = list.dataset.firstPage || "/staff";
    link.textContent = "see them on the first page";
    banner.textContent = "";
    banner.append(
      `${waitingElsewhere} new ticket${waitingElsewhere === 1 ? "" : "s"}: `,
      link,
    );
    banner.hidden = false;
  }

  function showUrgentCue(count) {
    urgentArrived += count;
    document.title = `(${urgentArrived}) URGENT · ${baseTitle}`;
    beep();
  }

  function acknowledge() {
    if (urgentArrived) {
      urgentArrived = 0;
      document.title = baseTitle;
    }
  }

  // Browsers only let a page play sound after the person has used it (a click or a key).
  function unlockAudio() {
    if (audio) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audio = new Context();
    } catch (error) {
      audio = null;
    }
  }

  function beep() {
    if (!audio) return;
    try {
      if (audio.state === "suspended") audio.resume();
      const start = audio.currentTime;
      for (const [offset, pitch] of [
        [0, 880],
        [0.22, 660],
      ]) {
        const tone = audio.createOscillator();
        const volume = audio.createGain();
        tone.type = "sine";
        tone.frequency.value = pitch;
        volume.gain.setValueAtTime(0.0001, start + offset);
        volume.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
        volume.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
        tone.connect(volume).connect(audio.destination);
        tone.start(start + offset);
        tone.stop(start + offset + 0.2);
      }
    } catch (error) {
      /* no sound: the title still says it */
    }
  }

  async function poll() {
    const separator = query ? "&" : "";
    let response;
    try {
      response = await fetch(`/staff/tickets.json?${query}${separator}after=${latestId}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
    } catch (error) {
      return; // offline for a moment: the next poll tries again
    }
    if (response.status === 401) {
      clearInterval(polling);
      announce("You are signed out: reload the page to sign in again.");
      return;
    }
    if (!response.ok) return;
    const data = await response.json();
    updateCounts(data.counts);
    const marked = newIds();
    let urgent = 0;
    let added = 0;
    let insertedHere = 0;
    for (const ticket of data.tickets || []) {
      if (document.getElementById(`ticket-${ticket.id}`)) continue;
      if (ticket.urgency === "urgent") urgent += 1;
      added += 1;
      if (page !== 1) continue;
      const article = fromHtml(ticket.html);
      if (!article) continue;
      markNew(article);
      marked.add(ticket.id);
      insert(article);
      insertedHere += 1;
    }
    updateShown(added, insertedHere);
    rememberNew(marked);
    latestId = Math.max(latestId, Number(data.latest_id) || 0);
    if (page === 1) write(localStorage, LAST_SEEN_KEY, String(latestId));
    if (page !== 1 && added) {
      waitingElsewhere += added;
      announceElsewhere();
    } else if (data.more) {
      announce("More new tickets than fit here: reload to see them all.");
    }
    if (urgent) showUrgentCue(urgent);
  }

  // -- selection and keyboard shortcuts ------------------------------------------------------

  function selected() {
    return list.querySelector("article.ticket.selected");
  }

  // Selecting a ticket is looking at it: it is not new any more.
  function highlight(article) {
    const current = selected();
    if (current && current !== article) current.classList.remove("selected");
    article.classList.add("selected");
    if (article.classList.contains("is-new")) {
      article.classList.remove("is-new");
      const flag = article.querySelector(".new-flag");
      if (flag) flag.hidden = true;
      const marked = newIds();
      marked.delete(Number(article.dataset.id));
      rememberNew(marked);
    }
  }

  function select(article) {
    if (!article) return;
    highlight(article);
    article.focus({ preventScroll: true });
    article.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = tickets();
    if (!all.length) return;
    const index = all.indexOf(selected());
    const next = index < 0 ? (step > 0 ? 0 : all.length - 1) : index + step;
    select(all[Math.min(all.length - 1, Math.max(0, next))]);
  }

  function press(key) {
    const article = selected();
    if (!article) return;
    const button = article.querySelector(`.status-form button[data-key="${key}"]`);
    if (!button) return;
    // After the reload the ticket may have left this view: select the one after it.
    const all = tickets();
    const after = all[all.indexOf(article) + 1] || all[all.indexOf(article) - 1];
    if (after) write(sessionStorage, SELECT_NEXT_KEY, after.id);
    button.click();
  }

  function toggleShortcuts(show) {
    const panel = document.getElementById("shortcuts");
    if (panel) panel.hidden = show === undefined ? !panel.hidden : !show;
  }

  function typing(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
    );
  }

  document.addEventListener("keydown", (event) => {
    unlockAudio();
    acknowledge();
    if (event.key === "Escape") {
      toggleShortcuts(false);
      if (typing(event.target)) event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const actions = {
      j: () => move(1),
      k: () => move(-1),
      c: () => press("c"),
      x: () => press("x"),
      "/": () => document.getElementById("search")?.focus(),
      "?": () => toggleShortcuts(),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("pointerdown", (event) => {
    unlockAudio();
    acknowledge();
    const article = event.target instanceof Element && event.target.closest("article.ticket");
    if (article) highlight(article);
  });

  // -- start --------------------------------------------------------------------------------

  markNewSinceLastLook();
  const wanted = read(sessionStorage, SELECT_NEXT_KEY);
  write(sessionStorage, SELECT_NEXT_KEY, "");
  const fromHash = location.hash.startsWith("#ticket-")
    ? document.getElementById(location.hash.slice(1))
    : null;
  select(fromHash || (wanted && document.getElementById(wanted)) || null);
  polling = setInterval(poll, POLL_MS);
})();
