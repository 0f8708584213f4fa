// The History sidebar's promotion view (docs/promotion.md): on a namespace
// whose policy names promotion targets, "Promote to prod…" opens the
// preview (the node-by-node diff, env keys new to the target, what the
// target's overlay kept, credentials the target lacks) with a confirm; on a
// protected namespace, the pending requests into it with Approve and
// Reject. plugin/history.html loads this file after resources/history.js;
// it talks only to the plugin's routes (plugin/promotion-routes.js).
//
// Like history.js, one factory: in the editor it adds itself to the
// sidebar (window.flowhistViews, or window.flowhistSidebar when the sidebar
// is already up); under Node.js (test/promotion-view.test.js) it exports
// the pure helpers. Every value from flows or flowhist is inserted as
// text ($.text()), and escaped where an API takes HTML (a tray's title,
// RED.notify).
(function (root, factory) {
    "use strict";
    var view = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = view;
    } else if (root.flowhistSidebar) {
        view.start(root.flowhistSidebar);
    } else {
        (root.flowhistViews = root.flowhistViews || []).push(view.start);
    }
})(typeof window !== "undefined" ? window : this, function () {
    "use strict";

    // ---- pure helpers -------------------------------------------------

    // where names a node of the preview's lists: "tab Orders" (its name
    // from flowhist, else its label in this editor: labelOf(id)), or its
    // type and id.
    function where(e, labelOf) {
        var id = e.node || e.id;
        return (e.type || "node") + " " + (e.name || (labelOf && id && labelOf(id)) || id || "?");
    }

    // envLines are the preview's env entries as lines: "tab Orders: RETRIES".
    function envLines(list, labelOf) {
        return (list || []).map(function (e) { return where(e, labelOf) + ": " + e.key; });
    }

    // overlayLines are the overlay properties the target kept: "h1 url".
    function overlayLines(list) {
        return (list || []).map(function (e) { return e.node + " " + e.path; });
    }

    // credentialLines are the nodes whose credentials the target lacks.
    function credentialLines(list) {
        return (list || []).map(function (e) { return (e.name ? e.name + " " : "") + "(" + e.type + ") " + e.id; });
    }

    // promoteBody is what the confirm sends: the previewed source revision
    // and target head (whole, as answered), so that a source or a target
    // that moved since is refused rather than promoted unseen.
    function promoteBody(to, preview, reason, request) {
        return {
            to: to,
            rev: preview.source.revision,
            expectedHead: preview.targetHead,
            reason: reason,
            request: !!request
        };
    }

    // requestState is a request's state as shown: stale wins over pending.
    function requestState(r) {
        return r.state === "pending" && r.stale ? "stale" : r.state;
    }

    var CSS = [
        ".red-ui-flowhist-promotion { padding: 6px 8px; border-bottom: 1px solid var(--red-ui-secondary-border-color, #ddd); }",
        ".red-ui-flowhist-promotion .red-ui-button { margin: 2px 4px 2px 0; }",
        ".red-ui-flowhist-protected { font-size: 0.9em; color: #a06a00; margin-bottom: 4px; }",
        ".red-ui-flowhist-requests { list-style: none; margin: 4px 0 0; padding: 0; }",
        ".red-ui-flowhist-requests li { border: 1px solid var(--red-ui-secondary-border-color, #ddd); border-radius: 3px; padding: 4px 6px; margin-bottom: 4px; font-size: 0.9em; }",
        ".red-ui-flowhist-requests li.stale { opacity: 0.75; }",
        ".red-ui-flowhist-request-state { font-size: 0.8em; padding: 0 4px; border-radius: 3px; background: var(--red-ui-tertiary-background, #eee); }",
        ".red-ui-flowhist-requests li.stale .red-ui-flowhist-request-state { background: #fde2c4; }",
        ".red-ui-flowhist-request-message, .red-ui-flowhist-promote-result { margin-top: 4px; white-space: pre-wrap; word-break: break-word; }",
        ".red-ui-flowhist-request-message.error, .red-ui-flowhist-promote-result.error { color: #b33a3a; }",
        ".red-ui-flowhist-flagged li { color: #a06a00; }",
        ".red-ui-flowhist-promote-confirm { margin-top: 16px; padding-top: 10px; border-top: 1px solid var(--red-ui-secondary-border-color, #ddd); }",
        ".red-ui-flowhist-promote-confirm textarea { width: 100%; box-sizing: border-box; }"
    ].join("\n");

    // ---- the view -------------------------------------------------------

    // start adds the view to the sidebar s (resources/history.js: RED, $,
    // content, api, failure, openTray, renderDiff, escapeHTML, reload).
    function start(s) {
        var RED = s.RED, $ = s.$;
        var NS = "node-red-storage-flowhist/flowhist-history:promotion.";
        function t(key, opts) { return RED._(NS + key, opts); }
        function th(key, opts) {
            var out = {};
            Object.keys(opts || {}).forEach(function (k) { out[k] = s.escapeHTML(opts[k]); });
            return t(key, out);
        }
        var policy = null; // GET flowhist/promotion
        // labelOf is a flow's, subflow's or group's label in this editor.
        function labelOf(id) {
            var n = RED.nodes.workspace(id) || RED.nodes.subflow(id) || RED.nodes.group(id);
            return n ? (n.label || n.name || "") : "";
        }
        var panel, requestList;

        function list(title, lines, cls) {
            if (!lines.length) { return $(); }
            var box = $("<div></div>").addClass(cls);
            $("<h4></h4>").text(title + " (" + lines.length + ")").appendTo(box);
            var ul = $("<ul></ul>").appendTo(box);
            lines.forEach(function (l) { $("<li></li>").text(l).appendTo(ul); });
            return box;
        }

        // showPreview opens the promote tray for target to.
        function showPreview(to) {
            s.openTray(th("title", { from: policy.namespace, to: to }), function (body, done) {
                body.addClass("red-ui-flowhist-promotion-preview");
                $("<p></p>").text(t("loading")).appendTo(body);
                s.api("POST", "promotion/preview", { to: to }).done(function (out) {
                    body.empty();
                    renderPreview(body, to, out.preview, out.review);
                    done();
                }).fail(function (xhr) { body.empty().text(t("error", { message: s.failure(xhr) })); done(); });
            });
        }

        function renderPreview(body, to, p, review) {
            var src = p.source || {}, head = p.targetHead || {};
            $('<p class="red-ui-flowhist-about"></p>').text(t("about", { from: p.from, rev: src.revision, to: p.to, head: head.revision })).appendTo(body);
            if (p.noop) {
                $('<p class="red-ui-flowhist-promote-noop"></p>').text(t("noop", { to: to })).appendTo(body);
                return;
            }
            list(t("envNew", { from: p.from }), envLines(p.envNew, labelOf), "red-ui-flowhist-env-new red-ui-flowhist-flagged").appendTo(body);
            list(t("envOverlaid", { to: to }), envLines(p.envOverlaid, labelOf), "red-ui-flowhist-env-overlaid").appendTo(body);
            list(t("overlayKept", { to: to }), overlayLines(p.overlayKept), "red-ui-flowhist-overlay-kept").appendTo(body);
            list(t("credentialsMissing", { to: to }), credentialLines(p.credentialsMissing), "red-ui-flowhist-creds-missing red-ui-flowhist-flagged").appendTo(body);
            if (p.credentials === "unknown") { $('<p class="red-ui-flowhist-creds-unknown"></p>').text(t("credentialsUnknown", { to: to })).appendTo(body); }
            var diff = $('<div class="red-ui-flowhist-promote-diff"></div>').appendTo(body);
            s.renderDiff(p.diff || {}, diff);
            confirmSection(body, to, p, review);
        }

        function confirmSection(body, to, p, review) {
            var box = $('<div class="red-ui-flowhist-promote-confirm"></div>').appendTo(body);
            if (!policy.canDeploy) {
                $('<p class="red-ui-flowhist-denied"></p>').text(t("denied")).appendTo(box);
                return;
            }
            if (review) { $("<p></p>").text(t("reviewNote", { to: to })).appendTo(box); }
            var reason = $('<textarea rows="2" class="red-ui-flowhist-promote-reason"></textarea>').attr("placeholder", t(review ? "reasonRequired" : "reason")).appendTo(box);
            var go = $('<button type="button" id="red-ui-flowhist-promote-confirm" class="red-ui-button primary"></button>')
                .text(t(review ? "request" : "confirm", { to: to })).appendTo($("<div></div>").appendTo(box));
            var result = $('<div class="red-ui-flowhist-promote-result" role="status"></div>').appendTo(box);
            if (review) {
                go.prop("disabled", true);
                reason.on("input", function () { go.prop("disabled", !$.trim(reason.val())); });
            }
            go.on("click", function () {
                go.prop("disabled", true);
                s.api("POST", "promotion/promote", promoteBody(to, p, $.trim(reason.val()), review)).done(function (out) {
                    var msg = review ? t("requested", { to: to }) : out.noop ? t("noop", { to: to }) : t("promoted", { to: to, revision: out.revision });
                    result.removeClass("error").attr("data-state", review ? "requested" : "promoted").text(msg);
                    RED.notify(s.escapeHTML(msg), "success");
                    s.reload();
                }).fail(function (xhr) {
                    result.addClass("error").attr("data-state", "failed").text(t("error", { message: s.failure(xhr) }));
                    go.prop("disabled", false);
                });
            });
        }

        // loadRequests fills the pending list of a protected namespace.
        function loadRequests() {
            s.api("GET", "promotion/requests").done(function (out) {
                requestList.empty();
                var rs = (out && out.requests) || [];
                if (!rs.length) { $('<li class="red-ui-flowhist-requests-none"></li>').text(t("noRequests")).appendTo(requestList); }
                rs.forEach(function (r) { requestItem(r).appendTo(requestList); });
            }).fail(function (xhr) {
                requestList.empty();
                $("<li></li>").text(t("error", { message: s.failure(xhr) })).appendTo(requestList);
            });
        }

        function requestItem(r) {
            var state = requestState(r);
            var li = $("<li></li>").attr("data-request", r.id).addClass(state);
            var head = $('<div class="red-ui-flowhist-head"></div>').appendTo(li);
            $("<span></span>").text(t("requestLine", { from: r.from, rev: r.source && r.source.revision, user: (r.requestedBy && r.requestedBy.user) || "?" })).appendTo(head);
            $('<span class="red-ui-flowhist-request-state"></span>').text(t("state." + state)).appendTo(head);
            if (r.reason) { $('<div class="red-ui-flowhist-reason"></div>').text(r.reason).appendTo(li); }
            var msg = $('<div class="red-ui-flowhist-request-message" role="status"></div>');
            var bar = $("<div></div>").appendTo(li);
            $('<button type="button" class="red-ui-button red-ui-button-small red-ui-flowhist-request-view"></button>').text(t("view")).on("click", function () {
                s.openTray(th("requestTitle", { from: r.from, rev: r.source && r.source.revision }), function (body, done) {
                    body.addClass("red-ui-flowhist-promotion-preview");
                    renderRequest(body, r);
                    done();
                });
            }).appendTo(bar);
            if (policy.canDeploy) {
                ["approve", "reject"].forEach(function (action) {
                    $('<button type="button" class="red-ui-button red-ui-button-small"></button>').addClass("red-ui-flowhist-" + action)
                        .text(t(action)).prop("disabled", action === "approve" && state === "stale").on("click", function () {
                            var buttons = bar.find("button").prop("disabled", true);
                            s.api("POST", "promotion/requests/" + encodeURIComponent(r.id) + "/" + action, {}).done(function () {
                                msg.removeClass("error").attr("data-state", action === "approve" ? "approved" : "rejected").text(t(action === "approve" ? "approved" : "rejected"));
                                s.reload();
                                setTimeout(loadRequests, 1500);
                            }).fail(function (xhr) {
                                msg.addClass("error").attr("data-state", "refused").text(t("error", { message: s.failure(xhr) }));
                                buttons.prop("disabled", false);
                            });
                        }).appendTo(bar);
                });
            }
            msg.appendTo(li);
            return li;
        }

        function renderRequest(body, r) {
            var p = r.preview || {};
            $('<p class="red-ui-flowhist-about"></p>').text(t("about", { from: r.from, rev: r.source && r.source.revision, to: r.to, head: r.targetHead && r.targetHead.revision })).appendTo(body);
            if (r.stale) { $('<p class="red-ui-flowhist-protected"></p>').text(t("staleNote", { to: r.to })).appendTo(body); }
            list(t("envNew", { from: r.from }), envLines(p.envNew, labelOf), "red-ui-flowhist-env-new red-ui-flowhist-flagged").appendTo(body);
            list(t("credentialsMissing", { to: r.to }), credentialLines(p.credentialsMissing), "red-ui-flowhist-creds-missing red-ui-flowhist-flagged").appendTo(body);
            s.renderDiff(p.diff || {}, $('<div class="red-ui-flowhist-promote-diff"></div>').appendTo(body));
        }

        s.api("GET", "promotion").done(function (p) {
            policy = p;
            if (!p.targets.length && !p.protected) { return; }
            $("<style></style>").text(CSS).appendTo("head");
            panel = $('<div class="red-ui-flowhist-promotion"></div>');
            var filters = s.content.children(".red-ui-flowhist-filters");
            if (filters.length) { panel.insertAfter(filters); } else { panel.prependTo(s.content); }
            if (p.protected) {
                $('<div class="red-ui-flowhist-protected"></div>').text(p.promotesFrom.length ? t("protected", { from: p.promotesFrom.join(", ") }) : t("protectedAny")).appendTo(panel);
            }
            p.targets.forEach(function (to) {
                $('<button type="button" class="red-ui-button red-ui-flowhist-promote"></button>').attr("data-target", to).text(t("promote", { to: to })).on("click", function () { showPreview(to); }).appendTo(panel);
            });
            if (p.protected) {
                $("<h4></h4>").text(t("pending")).appendTo(panel);
                requestList = $('<ul class="red-ui-flowhist-requests"></ul>').appendTo(panel);
                $('<button type="button" class="red-ui-button red-ui-button-small red-ui-flowhist-requests-refresh"></button>').text(t("refresh")).on("click", loadRequests).appendTo(panel);
                loadRequests();
            }
        }).fail(function () {
            // flowhist without promotions, or not answering: no view.
        });
    }

    return {
        start: start,
        where: where,
        envLines: envLines,
        overlayLines: overlayLines,
        credentialLines: credentialLines,
        promoteBody: promoteBody,
        requestState: requestState
    };
});
