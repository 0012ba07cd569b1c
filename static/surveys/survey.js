// Participant rating pages (the pages work without this script):
// - keeps the answers given so far on the server as they change (the page's draft, see
//   surveys.services.page_draft_save), so a refresh, a lost tab or another device shows them again;
// - opens a page that came back with missing answers at the first row to fix, and unmarks a row
//   once it is answered; the error summary's links move the focus to their row;
// - sends a page only once when its button is pressed twice.
(function () {
  "use strict";
  const form = document.querySelector("form.survey-form[data-draft-url]");
  if (!form) return;
  const draftUrl = form.dataset.draftUrl;
  const status = document.getElementById("draft-status");
  const MESSAGES = {
    saved: "Your answers on this page are kept, even if you reload it.",
    saving: "Keeping your answers…",
    unsaved: "Your latest answers could not be kept yet (no connection?); they are sent with the page.",
    stale: "This page was already sent. Please reload the page to continue.",
  };
  const serialise = () => new URLSearchParams(new FormData(form)).toString();
  let kept = serialise(); // the page was rendered from what the server keeps
  let sending = false;
  let again = false;
  let submitting = false;

  function show(state) {
    if (!status) return;
    status.hidden = false;
    status.dataset.state = state;
    status.textContent = MESSAGES[state];
  }

  async function save() {
    if (sending) {
      again = true; // one request at a time, so an older draft never overwrites a newer one
      return;
    }
    const body = serialise();
    if (body === kept) {
      show("saved");
      return;
    }
    sending = true;
    show("saving");
    let stale = false;
    try {
      const response = await fetch(draftUrl, {
        method: "POST",
        body,
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) kept = body;
      stale = response.status === 409 || response.status === 410;
    } catch (error) {
      // Offline: the next change, leaving the page or the submission sends the answers again.
    }
    sending = false;
    if (stale) {
      show("stale");
      return;
    }
    if (again) {
      again = false;
      save();
      return;
    }
    show(kept === serialise() ? "saved" : "unsaved");
  }

  function unmark(row) {
    row.classList.remove("has-error");
    row.removeAttribute("aria-describedby");
    row.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
    const message = row.querySelector(".row-error");
    if (message) message.remove();
  }

  function goTo(row) {
    row.scrollIntoView({ block: "start" });
    const input = row.querySelector("input");
    if (input) input.focus({ preventScroll: true });
  }

  form.addEventListener("change", (event) => {
    const row = event.target.closest("fieldset.has-error");
    if (row) unmark(row);
    save();
  });

  form.addEventListener("submit", (event) => {
    if (submitting) {
      event.preventDefault();
      return;
    }
    submitting = true;
  });

  // Changes not yet kept when the participant leaves (closes the tab, reloads) go out as a beacon.
  window.addEventListener("pagehide", () => {
    if (!submitting && !sending && serialise() !== kept && navigator.sendBeacon) {
      navigator.sendBeacon(draftUrl, new URLSearchParams(new FormData(form)));
    }
  });
  window.addEventListener("pageshow", () => {
    submitting = false;
  });

  document.querySelectorAll(".error-summary a[href^='#row-']").forEach((link) => {
    link.addEventListener("click", (event) => {
      const row = document.getElementById(link.getAttribute("href").slice(1));
      if (!row) return;
      event.preventDefault();
      goTo(row);
    });
  });

  // Answers shown on arrival were restored from what the server keeps: say so (not on a page shown
  // again by Back, which may be an old copy of a page already sent).
  const navigation = performance.getEntriesByType("navigation")[0];
  const fromHistory = navigation && navigation.type === "back_forward";
  if (!fromHistory && form.querySelector("input:checked")) show("saved");

  const firstError = form.querySelector("fieldset.has-error");
  if (firstError) {
    // After the autofocus has run, so the row's question is at the top of the screen, not cut off.
    window.addEventListener("load", () => requestAnimationFrame(() => goTo(firstError)));
  }
})();
