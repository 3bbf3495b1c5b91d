/*
 * Agency inbox: what tells the user that work arrived: the toast, the "new" badge (with the count in the
 * tab's title) and the sound, which the user can switch off.
 */

import { $ } from "./helpers.js";
import { state } from "./state.js";

export const badge = $("new-badge");
const badgeCount = $("new-badge-count");
const soundToggle = $("sound-toggle");
let sound = null;  // the Audio element, made on first use so that it never delays the page's load
const toastEl = $("inbox-toast");
const baseTitle = document.title;

// --- toast, badge, sound --------------------------------------------------------------------------
let toastTimer = null;
export function toast(text) {
  toastEl.textContent = text;
  toastEl.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(function () { toastEl.classList.remove("show"); }, 4000);
}
export function unseenIds() {
  const ids = [];
  state.rows.forEach(function (row, id) { if (row.unseen) ids.push(id); });
  return ids;
}
export function updateBadge() {
  const n = unseenIds().length;
  badgeCount.textContent = String(n);
  badge.hidden = n === 0;
  document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
}
let soundOn = localStorage.getItem("hotline.inbox.sound") !== "off";
export function showSoundState() {
  soundToggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
}
let lastSound = 0;
function audio() {
  if (!sound && window.Audio && soundToggle.dataset.sound) {
    sound = new Audio(soundToggle.dataset.sound);
    sound.preload = "auto";
  }
  return sound;
}
export function ding() {
  if (!soundOn || !audio() || Date.now() - lastSound < 1500) return;
  lastSound = Date.now();
  try {
    sound.currentTime = 0;
    const played = sound.play();
    // Browsers refuse to play before the user has interacted with the page: stay silent then.
    if (played && played.catch) played.catch(function () {});
  } catch (error) { /* no sound: the badge and highlight still show the arrival */ }
}

// The first interaction unlocks audio in browsers that need a gesture: prime the element silently.
function primeAudio() {
  document.removeEventListener("pointerdown", primeAudio, true);
  document.removeEventListener("keydown", primeAudio, true);
  if (!soundOn || !audio()) return;
  try {
    sound.muted = true;
    const p = sound.play();
    const unmute = function () { sound.pause(); sound.currentTime = 0; sound.muted = false; };
    if (p && p.then) p.then(unmute, function () { sound.muted = false; }); else unmute();
  } catch (error) { sound.muted = false; }
}
export function bindSound() {
  soundToggle.addEventListener("click", function () {
    soundOn = !soundOn;
    localStorage.setItem("hotline.inbox.sound", soundOn ? "on" : "off");
    showSoundState();
    if (soundOn) { lastSound = 0; ding(); }  // a preview, and the click lets the browser play later sounds
  });
  document.addEventListener("pointerdown", primeAudio, true);
  document.addEventListener("keydown", primeAudio, true);
}
