/*
 * Operator console, right column: the knowledge base ("resolve directly"): search, choose an article,
 * close the opened ticket as answered.
 */

import { $, api, clear, el, errorText, fmt } from "./helpers.js";
import { can, hooks, state } from "./state.js";
import { renderDispatch } from "./dispatch.js";
import { upsertQueue } from "./queue.js";

let kbSeq = 0;
export async function searchKnowledge() {
  const query = $("kb-q").value.trim();
  const status = $("kb-status");
  const list = $("kb-results");
  if (!query) return;
  const seq = ++kbSeq;
  status.textContent = gettext("Searching…");
  let data;
  try {
    data = await api("GET", "/api/knowledge/?q=" + encodeURIComponent(query.slice(0, 200)));
  } catch (error) {
    if (seq === kbSeq) status.textContent = errorText(error);
    return;
  }
  if (seq !== kbSeq) return;
  clear(list);
  const results = data.results || [];
  status.textContent = results.length ? fmt(gettext("%(n)s articles"), { n: results.length }) : gettext("No article matches.");
  for (const article of results.slice(0, 20)) {
    const choose = el("button", {
      type: "button",
      class: "small",
      text: gettext("Use this answer"),
      onclick: function () {
        chooseArticle(article);
      },
    });
    const item = el("li", { "data-id": article.id }, [
      el("details", null, [
        el("summary", null, [el("span", { class: "kb-title", text: article.title })]),
        el("p", { class: "kb-body", text: article.body }),
      ]),
      el("div", { class: "line sub" }, [el("span", { class: "kb-snippet", text: article.body.slice(0, 60) + (article.body.length > 60 ? "…" : "") }), choose]),
    ]);
    if (state.chosenArticle && state.chosenArticle.id === article.id) item.classList.add("chosen");
    list.appendChild(item);
  }
}

/** A new caller or a new matter: the previous search's articles and chosen answer must not stay offered. */
export function clearKnowledge() {
  ++kbSeq; // a search still on its way is for the previous matter
  $("kb-q").value = "";
  $("kb-status").textContent = "";
  clear($("kb-results"));
  state.chosenArticle = null;
  $("resolve-answer").value = "";
  $("resolve-article").textContent = "";
  $("resolve-error").textContent = "";
  renderResolveState();
}

function chooseArticle(article) {
  state.chosenArticle = article;
  $("resolve-answer").value = article.body;
  $("resolve-article").textContent = "· " + article.title;
  for (const item of $("kb-results").children) item.classList.toggle("chosen", item.dataset.id === String(article.id));
  renderResolveState();
  $("resolve-answer").focus();
}

export function renderResolveState() {
  const allowed = can("resolve_directly");
  $("resolve-submit").disabled = !allowed;
  $("resolve-hint").textContent = state.ticket
    ? allowed
      ? fmt(gettext("closes %(number)s"), { number: state.ticket.number })
      : gettext("not possible in this state")
    : gettext("accept the ticket first");
}

export async function submitResolve() {
  const ticket = state.ticket;
  const answer = $("resolve-answer").value.trim();
  $("resolve-error").textContent = "";
  if (!ticket || !can("resolve_directly")) return;
  if (!answer) {
    $("resolve-error").textContent = gettext("Write the answer given to the caller, or choose an article.");
    $("resolve-answer").focus();
    return;
  }
  const article = state.chosenArticle;
  const body = { answer: answer };
  if (article) body.article_id = article.id;
  if (!window.confirm(fmt(gettext("Close %(number)s as answered directly?"), { number: ticket.number }))) return;
  $("resolve-submit").disabled = true;
  try {
    const detail = await api("POST", "/api/tickets/" + ticket.id + "/resolve_directly/", body);
    if (state.ticket && state.ticket.id === ticket.id) state.ticket = detail;
    upsertQueue(detail);
    $("resolve-answer").value = "";
    $("resolve-article").textContent = "";
    state.chosenArticle = null;
    hooks.renderTicket();
    renderDispatch();
  } catch (error) {
    $("resolve-error").textContent = errorText(error);
    renderResolveState();
  }
}

export function bindKnowledge() {
  $("kb-form").addEventListener("submit", function (event) {
    event.preventDefault();
    searchKnowledge();
  });
  $("resolve-form").addEventListener("submit", function (event) {
    event.preventDefault();
    submitResolve();
  });
  $("resolve-answer").addEventListener("input", function () {
    // Edited freely; the article stays the reference unless the text is cleared.
    if (!$("resolve-answer").value.trim()) {
      state.chosenArticle = null;
      $("resolve-article").textContent = "";
    }
  });
}
