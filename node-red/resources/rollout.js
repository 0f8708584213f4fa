/*
 * The History sidebar's rollout view (node-red-storage-flowhist): the
 * namespace's current staged rollout under the sidebar's header — its
 * state, each ring with its workers done and their health, the time left
 * in the bake, why it stopped — and, for a user who may deploy when the
 * admin's flowhist token has the admin scope, promote and abort.
 *
 * It talks only to the plugin's routes (plugin/rollout-routes.js). Every
 * value from flowhist (ring and worker names, problems, reasons) is
 * inserted as text, never as markup. resources/history.js calls
 * FlowhistRollout.mount(RED, $, content, api) once its sidebar exists;
 * the pure helpers are exported for the tests.
 */
(function (root, factory) {
    var view = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = view;
    } else {
        root.FlowhistRollout = view;
    }
})(typeof window !== "undefined" ? window : this, function () {
    "use strict";

    var ACTIVE_POLL = 1000; // ms between reads while a rollout runs
    var IDLE_POLL = 5000; // ms between reads under a policy, no rollout running
    var NO_POLICY_POLL = 30000; // ms between reads without a policy

    var STATES = {
        idle: "no rollout running",
        baking: "baking",
        waiting: "waiting for a window",
        paused: "paused",
        completed: "completed",
        rolledback: "rolled back",
        aborted: "aborted"
    };

    var CSS = [
        ".red-ui-flowhist-rollout { padding: 6px 8px; border-bottom: 1px solid var(--red-ui-secondary-border-color, #ddd); font-size: 0.9em; }",
        ".red-ui-flowhist-rollout-head { display: flex; justify-content: space-between; gap: 6px; align-items: baseline; }",
        ".red-ui-flowhist-rollout-state { font-weight: bold; }",
        ".red-ui-flowhist-rollout-state.rolledback, .red-ui-flowhist-rollout-state.aborted { color: #b33a3a; }",
        ".red-ui-flowhist-rollout-state.completed { color: #3a7d3a; }",
        ".red-ui-flowhist-rollout-reason { font-style: italic; margin: 2px 0; word-break: break-word; }",
        ".red-ui-flowhist-rollout-ring { margin-top: 4px; }",
        ".red-ui-flowhist-rollout-ring-head { display: flex; justify-content: space-between; gap: 6px; }",
        ".red-ui-flowhist-rollout-ring.current .red-ui-flowhist-rollout-ring-name { text-decoration: underline; }",
        ".red-ui-flowhist-rollout-ring-name { font-weight: bold; }",
        ".red-ui-flowhist-rollout-workers { list-style: none; margin: 0 0 0 10px; padding: 0; }",
        ".red-ui-flowhist-rollout-worker.ok::before { content: \"\\2714  \"; color: #3a7d3a; }",
        ".red-ui-flowhist-rollout-worker.bad::before { content: \"\\2716  \"; color: #b33a3a; }",
        ".red-ui-flowhist-rollout-worker.wait::before { content: \"\\2026  \"; color: #999; }",
        ".red-ui-flowhist-rollout-problem { color: #b33a3a; word-break: break-word; }",
        ".red-ui-flowhist-rollout-actions { display: flex; gap: 6px; justify-content: flex-end; margin-top: 6px; flex-wrap: wrap; }",
        ".red-ui-flowhist-rollout-actions input { flex: 1; min-width: 8em; }"
    ].join("\n");

    // esc makes s text for an API that takes HTML (RED.notify).
    function esc(s) {
        return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
    }

    // timeLeft is "Ns" / "Nm Ns" until iso from now; "" when past or unset.
    function timeLeft(iso, now) {
        if (!iso) { return ""; }
        var ms = Date.parse(iso) - now;
        if (!(ms > 0)) { return ""; }
        var s = Math.ceil(ms / 1000);
        if (s < 60) { return s + "s"; }
        var m = Math.floor(s / 60);
        if (m < 60) { return m + "m " + (s % 60) + "s"; }
        return Math.floor(m / 60) + "h " + (m % 60) + "m";
    }

    // stateText names a rollout's state for people.
    function stateText(r) {
        if (!r) { return ""; }
        return Object.prototype.hasOwnProperty.call(STATES, r.state) ? STATES[r.state] : String(r.state || "");
    }

    // ringLine is one ring's summary: "1/1 done · bake 7s left" etc.
    function ringLine(ring, isCurrent, r, now) {
        var parts = [(ring.done || 0) + "/" + (ring.total || 0) + " done"];
        if (!ring.promoted) {
            parts.push("not yet");
        } else if (ring.passed) {
            parts.push("passed");
        } else if (isCurrent && r.active) {
            var left = timeLeft(ring.bakeUntil, now);
            parts.push(left ? "bake " + left + " left" : (ring.bakeUntil ? "bake over" : "waiting for health"));
        }
        return parts.join(" \u00b7 ");
    }

    // render builds the panel's content into box (a jQuery element) from a
    // GET flowhist/rollout answer; act(action, reason) runs an action.
    function render($, box, answer, now, act) {
        box.empty();
        var r = answer && answer.rollout;
        if (!r || !r.policy) { box.hide(); return; }
        box.show();
        var head = $('<div class="red-ui-flowhist-rollout-head"></div>').appendTo(box);
        var title = $("<span></span>").appendTo(head);
        title.append(document.createTextNode("Rollout"));
        if (r.revision) { title.append(document.createTextNode(" of revision " + r.revision)); }
        title.append(document.createTextNode(": "));
        $('<span class="red-ui-flowhist-rollout-state"></span>').addClass(String(r.state || "").replace(/[^a-z]/g, "")).text(stateText(r)).appendTo(title);
        if (r.base && r.base.revision && r.state !== "idle") {
            $('<span class="red-ui-flowhist-time"></span>').text("from " + r.base.revision).appendTo(head);
        }
        if (r.reason) {
            $('<div class="red-ui-flowhist-rollout-reason"></div>').text(r.reason).appendTo(box);
        }
        (r.rings || []).forEach(function (ring, i) {
            var isCurrent = i === r.ring;
            var el = $('<div class="red-ui-flowhist-rollout-ring"></div>').toggleClass("current", isCurrent && !!r.active).attr("data-ring", String(ring.name)).appendTo(box);
            var rh = $('<div class="red-ui-flowhist-rollout-ring-head"></div>').appendTo(el);
            var name = $("<span></span>").appendTo(rh);
            $('<span class="red-ui-flowhist-rollout-ring-name"></span>').text(String(ring.name)).appendTo(name);
            if (ring.target && ring.target.revision) { name.append(document.createTextNode(" @ " + ring.target.revision)); }
            $('<span class="red-ui-flowhist-rollout-ring-line"></span>').text(ringLine(ring, isCurrent, r, now)).appendTo(rh);
            var ul = $('<ul class="red-ui-flowhist-rollout-workers"></ul>').appendTo(el);
            (ring.workers || []).forEach(function (w) {
                var onTarget = ring.target && w.id === ring.target.id;
                var cls = !w.reported || !onTarget ? "wait" : (w.healthy ? "ok" : "bad");
                var li = $('<li class="red-ui-flowhist-rollout-worker"></li>').addClass(cls).attr("data-worker", String(w.worker)).appendTo(ul);
                li.append(document.createTextNode(String(w.worker) + (w.revision ? " @ " + w.revision : "")));
                if (w.problem) { $('<span class="red-ui-flowhist-rollout-problem"></span>').text(" \u2014 " + w.problem).appendTo(li); }
            });
        });
        if (r.active && answer.canAct && act) {
            var actions = $('<div class="red-ui-flowhist-rollout-actions"></div>').appendTo(box);
            var reason = $('<input type="text" class="red-ui-flowhist-rollout-why" maxlength="500">').attr("placeholder", "reason (needed to abort)").appendTo(actions);
            $('<button type="button" class="red-ui-button red-ui-flowhist-rollout-promote"></button>').text("Promote").attr("title", "Take the current ring as passed now and move on").on("click", function () {
                act("promote", $.trim(reason.val()));
            }).appendTo(actions);
            $('<button type="button" class="red-ui-button red-ui-flowhist-rollout-abort"></button>').text("Abort").attr("title", "Stop the rollout and roll back to the last good revision").on("click", function () {
                var why = $.trim(reason.val());
                if (!why) { reason.focus(); return; }
                act("abort", why);
            }).appendTo(actions);
        }
    }

    function mount(RED, $, content, api) {
        if (!document.getElementById("red-ui-flowhist-rollout-css")) {
            var style = document.createElement("style");
            style.id = "red-ui-flowhist-rollout-css";
            style.textContent = CSS;
            document.head.appendChild(style);
        }
        var box = $('<div class="red-ui-flowhist-rollout"></div>').hide().appendTo(content);
        var last = null;
        var timer = null;
        var busy = false;
        var typing = function () { return box.find(".red-ui-flowhist-rollout-why").is(":focus"); };
        var draw = function () {
            if (typing()) { return; } // keep what the user is typing
            render($, box, last, Date.now(), act);
        };
        var poll = function () {
            clearTimeout(timer);
            api("GET", "rollout").done(function (a) { last = a; draw(); }).always(function () {
                var r = last && last.rollout;
                timer = setTimeout(poll, r && r.active ? ACTIVE_POLL : (r && r.policy ? IDLE_POLL : NO_POLICY_POLL));
            });
        };
        function act(action, reason) {
            if (busy) { return; }
            busy = true;
            api("POST", "rollout/" + action, reason ? { reason: reason } : {}).done(function () {
                RED.notify(esc(action === "abort" ? "Rollout aborted" : "Rollout promoted"), "success");
                box.find(".red-ui-flowhist-rollout-why").val("").blur();
            }).fail(function (xhr) {
                var m = xhr && xhr.responseJSON && xhr.responseJSON.message;
                RED.notify(esc("Rollout " + action + " failed: " + (m || (xhr && xhr.status ? "HTTP " + xhr.status : "no answer"))), "error");
            }).always(function () { busy = false; poll(); });
        }
        // Every rollout step is an event: a new revision reads the status
        // at once (the plugin's notice, as the history list uses it).
        if (RED.comms && typeof RED.comms.subscribe === "function") {
            RED.comms.subscribe("flowhist/revision", function () { poll(); });
        }
        poll();
    }

    return { mount: mount, render: render, esc: esc, timeLeft: timeLeft, stateText: stateText, ringLine: ringLine };
});
