// The History sidebar's editor side: plugin/history.html loads this file
// from the module's resources/ folder, which Node-RED serves at
// resources/node-red-storage-flowhist/. It talks only to the plugin's
// routes on Node-RED's admin API (flowhist/...); the flowhist token never
// reaches the browser.
//
// The file is one factory: in the editor it registers the plugin, whose
// start(RED, $) builds the sidebar; under Node.js (test/resources.test.js)
// it exports the pure helpers below, the formatting, escaping and diff
// reading the sidebar is built from. Every value from flows or flowhist
// is inserted as text (textContent, $.text()), and escaped (th) where an
// API takes HTML: a tray's title, RED.notify.
(function (root, factory) {
    "use strict";
    var view = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = view;
    } else {
        root.RED.plugins.registerPlugin("flowhist-history", { onadd: function () { view.start(root.RED, root.$); } });
    }
})(typeof window !== "undefined" ? window : this, function () {
    "use strict";

    // ---- pure helpers -------------------------------------------------

    var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };

    // escapeHTML is s as text inside HTML.
    function escapeHTML(s) {
        return String(s).replace(/[&<>"']/g, function (c) { return HTML_ESCAPES[c]; });
    }

    // escapeValues returns opts with every value escaped, for a message
    // whose text goes to an API that takes HTML.
    function escapeValues(opts) {
        var out = {};
        Object.keys(opts || {}).forEach(function (k) { out[k] = escapeHTML(opts[k]); });
        return out;
    }

    // kindOf is the filter kind of an event.
    function kindOf(e) {
        if (e.cause === "rollback" || e.type === "flows.rolledback") { return "rollback"; }
        if (e.cause === "promotion" || e.type === "namespace.policy" || e.type === "namespace.overlay") { return "promotion"; }
        return String(e.type || "").split(".")[0];
    }

    // relative says how long before now (ms) iso was, in the words of t
    // (the catalogue's time.*); "" for no time.
    function relative(iso, now, t) {
        var d = (now - new Date(iso).getTime()) / 1000;
        if (!isFinite(d)) { return ""; }
        if (d < 45) { return t("time.now"); }
        if (d < 3600) { return t("time.minutes", { n: Math.max(1, Math.round(d / 60)) }); }
        if (d < 86400) { return t("time.hours", { n: Math.round(d / 3600) }); }
        return t("time.days", { n: Math.round(d / 86400) });
    }

    // refName names a node of a summary: a tab, subflow or group by its
    // kind and label ("tab Acceptance"), another node by its name, else by
    // its type and id.
    function refName(r) {
        if (r.name && (r.type === "tab" || r.type === "subflow" || r.type === "group")) { return r.type + " " + r.name; }
        return r.name || r.type + " " + r.id;
    }

    // names lists the first three nodes of a summary (refName), with "…"
    // when there are more.
    function names(refs) {
        return (refs || []).slice(0, 3).map(refName).join(", ") +
            ((refs || []).length > 3 ? ", …" : "");
    }

    // who says who made an event, in the words of t: the user, and the
    // token that acted for it when another ("alice", "via nr-admin"); for an
    // import, the user its source claims, and the importing token.
    function who(e, t) {
        var actor = e.actor || {};
        var claimed = e.claimed && e.claimed.user;
        var user = claimed ? t("claimed", { user: claimed }) : (actor.user || "?");
        var via = e.token && (claimed || e.token !== actor.user) ? t("via", { token: e.token }) : "";
        return { user: user, via: via };
    }

    // isQuiet: Node-RED's own settings saves (start-up, the editor's view
    // state and preferences) are folded into one quiet line per run, so
    // deploys and rollbacks stand out; not when the list is filtered by
    // kind, which asks for them.
    function isQuiet(e, filters) {
        return e.type === "settings.saved" && !(filters && filters.kind);
    }

    // historyQuery is the query of a history page: limit, cursor and the
    // filters that are set.
    function historyQuery(filters, cursor, limit) {
        var q = { limit: limit };
        if (cursor) { q.cursor = cursor; }
        Object.keys(filters || {}).forEach(function (k) { if (filters[k]) { q[k] = filters[k]; } });
        return q;
    }

    var VALUE_MAX = 2000; // characters of a property value shown

    // valueText is a property's value as shown: its JSON, cut to
    // VALUE_MAX characters; "—" for none.
    function valueText(v) {
        var s = v === undefined ? "—" : JSON.stringify(v, null, 1);
        if (s && s.length > VALUE_MAX) { s = s.slice(0, VALUE_MAX) + "…"; }
        return s;
    }

    var KEYWORDS = /^(var|let|const|function|return|if|else|for|while|do|switch|case|break|continue|new|typeof|instanceof|this|null|undefined|true|false|try|catch|finally|throw|async|await|class|of|in)$/;

    // tokens splits a line of JavaScript into [class, text] pairs, the
    // class null for plain text: comments, strings, numbers, keywords.
    function tokens(text) {
        var re = /(\/\/.*$)|("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`(?:[^`\\]|\\.)*`?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_$][\w$]*)/g;
        var out = [], last = 0, m;
        while ((m = re.exec(text)) !== null) {
            if (m.index > last) { out.push([null, text.slice(last, m.index)]); }
            out.push([m[1] ? "tok-com" : m[2] ? "tok-str" : m[3] ? "tok-num" : KEYWORDS.test(m[4]) ? "tok-kw" : null, m[0]]);
            last = m.index + m[0].length;
        }
        if (last < text.length) { out.push([null, text.slice(last)]); }
        return out;
    }

    // diffLines reads a unified diff into the lines shown, without its
    // file header: {cls: "hunk", text} for a hunk header or a "\ No
    // newline" note; {cls: "del" | "ins" | "ctx", mark, code, side, hunk}
    // for a line of code, side its first character and hunk the number of
    // the run of code lines it belongs to (from 0).
    function diffLines(text) {
        var out = [], hunk = -1, open = false;
        String(text).split("\n").forEach(function (line) {
            if (/^(---|\+\+\+) /.test(line) || line === "") { return; }
            var c = line.charAt(0);
            if (c === "@" || c === "\\") {
                if (c === "@") { open = false; }
                out.push({ cls: "hunk", text: line });
                return;
            }
            if (!open) { hunk++; open = true; }
            out.push({
                cls: c === "-" ? "del" : c === "+" ? "ins" : "ctx",
                mark: c === " " || c === "-" || c === "+" ? c : " ",
                code: line.slice(1),
                side: c,
                hunk: hunk
            });
        });
        return out;
    }

    // monacoParts splits the HTML of Monaco's colorize of n lines into one
    // part per line; it throws when the parts are not one per line.
    // Monaco's spaces are no-break spaces, which code copied from the
    // sidebar must not carry (white-space: pre keeps spaces): plain ones.
    function monacoParts(html, n) {
        var parts = String(html).split(/<br\s*\/?>/);
        if (parts.length === n + 1 && parts[n] === "") { parts.pop(); }
        if (parts.length !== n) { throw new Error("not one part per line"); }
        return parts.map(function (p) { return p.replace(/&nbsp;|&#160;|\u00a0/g, " "); });
    }

    // ---- the sidebar --------------------------------------------------

    // start builds the sidebar in Node-RED's editor (RED, jQuery's $).
    function start(RED, $) {
        var NS = "node-red-storage-flowhist/flowhist-history:history.";
        var TOPIC = "flowhist/revision";
        var PAGE = 50;
        function t(key, opts) { return RED._(NS + key, opts); }
        // th is t for an API that takes HTML (a tray's title, RED.notify):
        // Node-RED's i18next does not escape the values it puts in.
        function th(key, opts) { return t(key, escapeValues(opts)); }

        var config = null;      // GET flowhist/config
        var filters = {};       // kind, actor, since, until
        var nextCursor = null;
        var loading = false;
        var newest = 0;         // newest revision shown
        var selected = null;    // {revision, el}
        var list, status, moreButton, content;
        var newerWanted = false; // news came while a page was loading

        function api(method, path, body) {
            var opts = { url: "flowhist/" + path, method: method, dataType: "json", cache: false };
            if (body !== undefined) {
                opts.contentType = "application/json";
                opts.data = JSON.stringify(body);
            }
            return $.ajax(opts);
        }
        function failure(xhr) {
            var m = xhr && xhr.responseJSON && xhr.responseJSON.message;
            return m || (xhr && xhr.status ? "HTTP " + xhr.status : "no answer");
        }

        function ago(iso) { return relative(iso, Date.now(), t); }

        function entryElement(e) {
            var li = $('<li class="red-ui-flowhist-entry" tabindex="0" role="button"></li>').attr("data-revision", e.revision);
            var kind = kindOf(e);
            var head = $('<div class="red-ui-flowhist-head"></div>').appendTo(li);
            $('<span class="red-ui-flowhist-rev"></span>').text("#" + e.revision).appendTo(head);
            $('<span class="red-ui-flowhist-kind"></span>').addClass(kind).text(e.type).appendTo(head);
            $('<span class="red-ui-flowhist-time"></span>').text(ago(e.time)).attr("title", new Date(e.time).toLocaleString()).appendTo(head);
            var actor = e.actor || {};
            var by = who(e, t);
            var line = $('<div class="red-ui-flowhist-actor"></div>').appendTo(li);
            $('<span class="red-ui-flowhist-user"></span>').text(by.user).appendTo(line);
            if (by.via) { $('<span class="red-ui-flowhist-token"></span>').text(" " + by.via).appendTo(line); }
            if (actor.channel) { $('<span class="red-ui-flowhist-channel"></span>').text(" · " + t("channelClaim", { channel: actor.channel })).appendTo(line); }
            line.append(document.createTextNode(" · " + new Date(e.time).toLocaleString()));
            if (e.project) { line.append(document.createTextNode(" · " + e.project)); }
            var sum = $('<div class="red-ui-flowhist-summary"></div>').appendTo(li);
            var s = e.summary || {};
            var parts = 0;
            [["added", "+"], ["changed", "~"], ["removed", "−"]].forEach(function (p) {
                var refs = s[p[0]];
                if (refs && refs.length) {
                    $('<span></span>').addClass(p[0]).text(p[1] + refs.length + " " + names(refs) + " ").appendTo(sum);
                    parts++;
                }
            });
            if (e.credentials && e.credentials.changed) {
                $('<span></span>').text((parts ? "· " : "") + t("credentialsChanged")).appendTo(sum);
                parts++;
            }
            if (e.aggregate && !/^flows/.test(e.aggregate) && !parts) { sum.text(e.aggregate); }
            if (e.target) { $('<div class="red-ui-flowhist-reason"></div>').text(t("restoredTo", { target: e.target })).appendTo(li); }
            if (e.reason) { $('<div class="red-ui-flowhist-reason"></div>').text(t("reason", { reason: e.reason })).appendTo(li); }
            li.on("click keydown", function (ev) {
                if (ev.type === "keydown" && ev.key !== "Enter" && ev.key !== " ") { return; }
                ev.preventDefault();
                if (ev.shiftKey && selected && selected.revision !== e.revision) {
                    list.find(".compare").removeClass("compare");
                    li.addClass("compare");
                    var a = Math.min(selected.revision, e.revision), b = Math.max(selected.revision, e.revision);
                    showDiff(a, b, null);
                    return;
                }
                list.find(".selected, .compare").removeClass("selected compare");
                li.addClass("selected");
                selected = { revision: e.revision, entry: e };
                showRevision(e);
            });
            return li;
        }

        // quietGroup is a collapsed line holding a run of quiet entries; its
        // button shows them.
        function quietGroup() {
            var g = $('<li class="red-ui-flowhist-quiet"></li>');
            var inner = $('<ul class="red-ui-flowhist-quiet-list" role="list"></ul>').hide();
            $('<button type="button" class="red-ui-flowhist-quiet-toggle"></button>').attr("title", t("quietTitle")).attr("aria-expanded", "false").on("click", function () {
                var open = !g.hasClass("open");
                g.toggleClass("open", open);
                $(this).attr("aria-expanded", open ? "true" : "false");
                inner.toggle(open);
            }).appendTo(g);
            inner.appendTo(g);
            return g;
        }

        // addEntry puts e's element at the top or the bottom of the list, a
        // quiet one into the quiet group at that end (a new one if there is
        // none), and returns it.
        function addEntry(e, atTop) {
            var el = entryElement(e);
            var place = function (into, x) { if (atTop) { into.prepend(x); } else { into.append(x); } };
            if (!isQuiet(e, filters)) { place(list, el); return el; }
            var edge = atTop ? list.children().first() : list.children().last();
            var g = edge.hasClass("red-ui-flowhist-quiet") ? edge : quietGroup();
            if (g !== edge) { place(list, g); }
            place(g.children("ul"), el);
            var entries = g.find("li.red-ui-flowhist-entry");
            var users = [];
            entries.each(function () { var u = $(this).find(".red-ui-flowhist-user").text(); if (users.indexOf(u) < 0) { users.push(u); } });
            g.children("button").text(t("quiet", { n: entries.length }) + " · " + users.slice(0, 3).join(", ") + (users.length > 3 ? ", …" : ""));
            return el;
        }

        function query(cursor, limit) {
            return $.param(historyQuery(filters, cursor, limit || PAGE));
        }

        function loadPage(reset) {
            if (loading || (!reset && !nextCursor)) { return; }
            loading = true;
            if (reset) { list.empty(); nextCursor = null; newest = 0; }
            status.text(t("loading")).show();
            moreButton.hide();
            api("GET", "history?" + query(reset ? null : nextCursor)).done(function (page) {
                (page.entries || []).forEach(function (e) {
                    newest = Math.max(newest, e.revision);
                    addEntry(e, false);
                });
                nextCursor = page.nextCursor || null;
                if (!list.children().length) { status.text(t("empty")); }
                else if (!nextCursor) { status.text(t("end")); }
                else { status.hide(); moreButton.show(); }
                content.attr("data-loaded", "true");
                // Fill the list: the next page comes when it is scrolled near
                // its end, or now when it cannot scroll yet.
                var el = list[0];
                if (nextCursor && el.offsetParent !== null && el.scrollHeight <= el.clientHeight + 60) {
                    setTimeout(function () { loadPage(false); }, 0);
                }
            }).fail(function (xhr) {
                status.text(t("error", { message: failure(xhr) }));
            }).always(function () { loading = false; afterLoad(); });
        }

        // afterLoad fetches what news announced while a request was running.
        function afterLoad() {
            if (newerWanted && list.children().length) {
                newerWanted = false;
                setTimeout(loadNewer, 0);
            }
        }

        // loadNewer prepends the revisions after the newest shown (live news).
        function loadNewer() {
            if (!content) { return; }
            if (loading) { newerWanted = true; return; }
            loading = true;
            api("GET", "history?" + query(null, PAGE)).done(function (page) {
                var fresh = (page.entries || []).filter(function (e) { return e.revision > newest; });
                fresh.reverse().forEach(function (e) {
                    newest = Math.max(newest, e.revision);
                    addEntry(e, true).addClass("fresh");
                });
                if (fresh.length && status.text() === t("empty")) { status.hide(); }
            }).always(function () { loading = false; afterLoad(); });
        }

        // ---- diff view ----------------------------------------------------

        // highlight appends a line of JavaScript to el with token classes (the
        // same colours for every code property: most are JavaScript or
        // templates).
        function highlight(el, text) {
            tokens(text).forEach(function (tok) {
                if (tok[0]) {
                    var span = document.createElement("span");
                    span.className = tok[0];
                    span.textContent = tok[1];
                    el.appendChild(span);
                } else {
                    el.appendChild(document.createTextNode(tok[1]));
                }
            });
        }
        // CODE_LANGUAGES: the code properties the editor's own code editor
        // (Monaco) colours, by the language it edits them in.
        var CODE_LANGUAGES = { func: "javascript", initialize: "javascript", finalize: "javascript" };

        // unified renders a unified diff of a code property: at once with the
        // plugin's own colours, then, where the editor runs Monaco and knows
        // the property's language, with Monaco's (monaco.editor.colorize), the
        // colours the node's own edit dialog shows.
        function unified(text, property) {
            var box = document.createElement("div");
            box.className = "red-ui-flowhist-code";
            var hunks = []; // each [[div, code, side], …]
            diffLines(text).forEach(function (l) {
                var div = document.createElement("div");
                div.className = l.cls;
                if (l.hunk === undefined) {
                    div.textContent = l.text;
                } else {
                    div.appendChild(document.createTextNode(l.mark));
                    highlight(div, l.code);
                    if (!hunks[l.hunk]) { hunks[l.hunk] = []; }
                    hunks[l.hunk].push([div, l.code, l.side]);
                }
                box.appendChild(div);
            });
            colorize(box, hunks, CODE_LANGUAGES[property]);
            return box;
        }

        // colorize replaces the lines' colours with Monaco's. Each hunk's two
        // sides are coloured apart, as the code they were cut from: the old
        // (context and removed lines) and the new (context and added), so
        // that a comment or string is seen whole where the hunk shows it whole,
        // and a removed line's open comment does not colour the added ones.
        function colorize(box, hunks, language) {
            var m = window.monaco && window.monaco.editor;
            if (!language || !hunks.length || !m || typeof m.colorize !== "function") { return; }
            var side = function (lines) {
                // A lone carriage return would be a line break to Monaco, not
                // to the diff: one line each, whatever they hold.
                var source = lines.map(function (l) { return l[1].replace(/\r/g, " "); }).join("\n");
                return Promise.resolve(m.colorize(source, language, { tabSize: 4 })).then(function (html) {
                    return monacoParts(html, lines.length);
                });
            };
            Promise.all(hunks.map(function (h) {
                var olds = h.filter(function (l) { return l[2] !== "+"; });
                var news = h.filter(function (l) { return l[2] !== "-"; });
                return Promise.all([olds.length ? side(olds) : [], news.length ? side(news) : []]).then(function (r) {
                    var apply = function (lines, parts) {
                        lines.forEach(function (l, i) {
                            // Monaco's HTML: its tokens with the text escaped.
                            l[0].innerHTML = parts[i];
                            l[0].insertBefore(document.createTextNode(l[2]), l[0].firstChild);
                        });
                    };
                    apply(olds.filter(function (l) { return l[2] === "-"; }), r[0].filter(function (_, i) { return olds[i][2] === "-"; }));
                    apply(news, r[1]);
                });
            })).then(function () {
                box.setAttribute("data-colors", "monaco");
            }, function () { /* a hunk kept the plugin's colours */ });
        }
        function value(v, cls) {
            return $('<div class="red-ui-flowhist-value"></div>').addClass(cls).text(valueText(v));
        }
        function nodeHead(ref, change) {
            var box = $('<div class="red-ui-flowhist-node"></div>').addClass(change).attr("data-node", ref.id);
            var head = $('<div class="red-ui-flowhist-node-head"></div>').appendTo(box);
            var label = (ref.name ? ref.name + " " : "") + "(" + ref.type + ")";
            var exists = RED.nodes.node(ref.id) || RED.nodes.workspace(ref.id) || RED.nodes.subflow(ref.id) || RED.nodes.group(ref.id);
            if (exists) {
                $('<a href="#" class="red-ui-flowhist-reveal"></a>').text(label).attr("title", t("diff.reveal")).on("click", function (ev) {
                    ev.preventDefault();
                    // Close the diff (and any tray under it), then show the node.
                    var reveal = function () {
                        if ($(".red-ui-tray").length) { RED.tray.close(reveal); return; }
                        if (RED.nodes.workspace(ref.id)) { RED.workspaces.show(ref.id); }
                        else { RED.view.reveal(ref.id); }
                    };
                    reveal();
                }).appendTo(head);
            } else {
                $('<span></span>').text(label).attr("title", t("diff.gone")).appendTo(head);
            }
            $('<code></code>').text(ref.id).appendTo(head);
            return box;
        }
        function renderChange(c, into) {
            var box = nodeHead(c, "changed").appendTo(into);
            if (c.positionOnly) { box.addClass("position-only"); $('<div class="red-ui-flowhist-prop"></div>').text(t("diff.positionOnly")).appendTo(box); }
            // A flow or group by its label where this editor has it.
            var label = function (id) {
                var n = id && (RED.nodes.workspace(id) || RED.nodes.subflow(id) || RED.nodes.group(id));
                return !id ? "—" : n ? (n.label || n.name || id) : id;
            };
            if (c.moved) { $('<div class="red-ui-flowhist-prop"></div>').text(t("diff.movedTab", { from: label(c.moved.from), to: label(c.moved.to) })).appendTo(box); }
            if (c.group) { $('<div class="red-ui-flowhist-prop"></div>').text(t("diff.movedGroup", { from: label(c.group.from), to: label(c.group.to) })).appendTo(box); }
            (c.properties || []).forEach(function (p) {
                var row = $('<div class="red-ui-flowhist-prop"></div>').attr("data-property", p.name).appendTo(box);
                $('<span class="red-ui-flowhist-prop-name"></span>').text(p.name).appendTo(row);
                if (p.unified) {
                    row.append(unified(p.unified, p.name));
                } else {
                    row.append(value(p.old, "old")).append(value(p.new, "new"));
                }
            });
        }
        function renderDiff(d, into) {
            var any = false;
            [["added", d.added], ["removed", d.removed]].forEach(function (sec) {
                if (!sec[1] || !sec[1].length) { return; }
                any = true;
                $("<h4></h4>").text(t("diff." + sec[0]) + " (" + sec[1].length + ")").appendTo(into);
                sec[1].forEach(function (ref) { nodeHead(ref, sec[0]).appendTo(into); });
            });
            if (d.changed && d.changed.length) {
                any = true;
                $("<h4></h4>").text(t("diff.changed") + " (" + d.changed.length + ")").appendTo(into);
                d.changed.forEach(function (c) { renderChange(c, into); });
            }
            if (d.credentials && d.credentials.changed) {
                any = true;
                $('<p class="red-ui-flowhist-creds"></p>').text(t("diff.credentials")).appendTo(into);
            }
            if (!any) { $("<p></p>").text(t("diff.none")).appendTo(into); }
        }

        // showRevision opens what one revision changed: its diff against the
        // revision before for flows events, what it recorded for the others.
        function showRevision(e) {
            if (/^(flows|credentials)\./.test(e.type) || e.aggregate === "flows") {
                showDiff(Math.max(0, e.revision - 1), e.revision, e);
                return;
            }
            openTray(th("revision", { revision: e.revision }), function (body, done) {
                api("GET", "revisions/" + e.revision).done(function (r) {
                    $("<h4></h4>").text(t("diff.payload")).appendTo(body);
                    value(r.payload !== undefined ? r.payload : r, "").appendTo(body);
                    done();
                }).fail(function (xhr) { body.text(t("error", { message: failure(xhr) })); done(); });
            }, null);
        }

        function showDiff(from, to, entry) {
            var title = entry ? th("diff.titleOne", { to: to }) : th("diff.title", { from: from, to: to });
            openTray(title, function (body, done) {
                var positions = false;
                if (entry) { about(entry).appendTo(body); }
                var opts = $('<div><label><input type="checkbox" class="red-ui-flowhist-positions"> ' + "</label></div>").appendTo(body);
                opts.find("label").append(document.createTextNode(t("diff.showPositions")));
                var view = $('<div class="red-ui-flowhist-diff"></div>').appendTo(body);
                var load = function (first) {
                    view.empty().text(t("loading"));
                    api("GET", "diff?" + $.param({ from: from, to: to, positions: positions ? "true" : "false" })).done(function (d) {
                        view.empty();
                        renderDiff(d, view);
                        view.attr("data-ready", "true");
                        if (first) { done(); }
                    }).fail(function (xhr) {
                        view.text(t("error", { message: failure(xhr) }));
                        if (first) { done(); }
                    });
                };
                opts.find("input").on("change", function () { positions = this.checked; load(false); });
                load(true);
                restoreSection(to).appendTo(body);
            }, to);
        }

        // about says who made a revision, when, and why (a rollback's reason).
        function about(e) {
            var box = $('<div class="red-ui-flowhist-about"></div>');
            var actor = e.actor || {};
            var by = who(e, t);
            $("<div></div>").text("#" + e.revision + " · " + e.type + " · " + by.user + (by.via ? " " + by.via : "") +
                (actor.channel ? " · " + t("channelClaim", { channel: actor.channel }) : "") +
                " · " + new Date(e.time).toLocaleString() + (e.project ? " · " + e.project : "")).appendTo(box);
            if (e.target) { $('<div class="red-ui-flowhist-reason"></div>').text(t("restoredTo", { target: e.target })).appendTo(box); }
            if (e.reason) { $('<div class="red-ui-flowhist-reason"></div>').text(t("reason", { reason: e.reason })).appendTo(box); }
            return box;
        }

        function restoreSection(revision) {
            var box = $('<div class="red-ui-flowhist-restore"></div>');
            if (!config.canRestore) {
                var why = { permission: "restore.deniedPermission", unavailable: "restore.deniedUnavailable" }[config.restoreDenied] || "restore.deniedScope";
                $('<p class="red-ui-flowhist-denied"></p>').text(t(why)).appendTo(box);
                return box;
            }
            var open = $('<button type="button" class="red-ui-button red-ui-flowhist-restore-open"></button>').text(t("restore.button")).appendTo(box);
            var form = $('<div class="red-ui-flowhist-restore-form"></div>').appendTo(box);
            $("<p></p>").text(t("restore.intro", { revision: revision })).appendTo(form);
            if (RED.nodes.dirty()) { $('<p class="red-ui-flowhist-denied"></p>').text(t("restore.unsaved")).appendTo(form); }
            var id = "red-ui-flowhist-reason-" + revision;
            $("<label></label>").attr("for", id).text(t("restore.reason")).appendTo(form);
            var reason = $('<textarea rows="3" class="red-ui-flowhist-reason-input"></textarea>').attr("id", id).attr("placeholder", t("restore.placeholder")).appendTo(form);
            var confirm = $('<button type="button" class="red-ui-button primary red-ui-flowhist-restore-confirm" disabled></button>').text(t("restore.confirm"));
            var cancel = $('<button type="button" class="red-ui-button"></button>').text(t("restore.cancel"));
            $('<div style="margin-top:6px; display:flex; gap:6px"></div>').append(confirm).append(cancel).appendTo(form);
            reason.on("input", function () { confirm.prop("disabled", !$.trim(reason.val())); });
            open.on("click", function () { form.addClass("open"); open.hide(); reason.trigger("focus"); });
            cancel.on("click", function () { form.removeClass("open"); open.show(); });
            confirm.on("click", function () {
                confirm.prop("disabled", true);
                // The runtime announces the restored flows before the answer
                // comes: with no version, the editor does not offer to review
                // them as someone else's change (reloadFlows loads them).
                var version = RED.nodes.version();
                RED.nodes.version(null);
                api("POST", "restore", { revision: revision, reason: $.trim(reason.val()) }).done(function (out) {
                    if (out.noop) {
                        RED.notify(th("restore.noop", { target: revision }), { type: "compact" });
                    } else if (out.applied) {
                        RED.notify(th("restore.done", { target: revision, revision: out.revision }), { type: "success" });
                    } else {
                        RED.notify(th("restore.notApplied", { revision: out.revision }), { type: "warning" });
                    }
                    RED.tray.close();
                    reloadFlows(version);
                    loadNewer();
                }).fail(function (xhr) {
                    RED.nodes.version(version);
                    confirm.prop("disabled", false);
                    RED.notify(th("error", { message: failure(xhr) }), { type: "error" });
                });
            });
            return box;
        }

        // reloadFlows shows the runtime's flows in the workspace, as the editor
        // does when a project changes.
        function reloadFlows(previousVersion) {
            $.ajax({ url: "flows", headers: { "Accept": "application/json", "Node-RED-API-Version": "v2" }, cache: false }).fail(function () {
                if (RED.nodes.version() === null && previousVersion !== undefined) { RED.nodes.version(previousVersion); }
            }).done(function (data) {
                var active = RED.workspaces.active();
                RED.nodes.clear();
                RED.history.clear();
                RED.nodes.version(data.rev);
                RED.nodes.import(data.flows);
                RED.nodes.dirty(false);
                RED.view.redraw(true);
                if (RED.workspaces.count() > 0) {
                    RED.workspaces.show(RED.nodes.workspace(active) ? active : RED.nodes.getWorkspaceOrder()[0]);
                }
                RED.events.emit("flows:loaded");
            });
        }

        function openTray(title, fill, revision) {
            var tray = {
                title: title,
                width: Math.min(900, Math.round($(window).width() * 0.6)),
                buttons: [{ id: "red-ui-flowhist-tray-close", text: t("diff.close"), click: function () { RED.tray.close(); } }],
                open: function (el) {
                    var body = $('<div class="red-ui-flowhist-view"></div>').appendTo(el.find(".red-ui-tray-body"));
                    if (revision) { body.attr("data-revision", revision); }
                    fill(body, function () { body.attr("data-done", "true"); });
                }
            };
            RED.tray.show(tray);
        }

        // ---- node history -------------------------------------------------

        function showNodeHistory(id) {
            if (!id) {
                var sel = RED.view.selection();
                if (!sel.nodes || sel.nodes.length !== 1) { RED.notify(th("node.selectOne"), { type: "warning" }); return; }
                id = sel.nodes[0].id;
            }
            openTray(th("node.title", { id: id }), function (body, done) {
                body.addClass("red-ui-flowhist-node-history").attr("data-node", id);
                api("GET", "nodes/" + encodeURIComponent(id) + "/history").done(function (h) {
                    var ul = $('<ul class="red-ui-flowhist-list"></ul>').appendTo(body);
                    if (!h.entries || !h.entries.length) { $("<p></p>").text(t("node.none")).appendTo(body); }
                    (h.entries || []).forEach(function (e) {
                        var li = $('<li class="red-ui-flowhist-entry"></li>').attr("data-revision", e.revision).appendTo(ul);
                        var head = $('<div class="red-ui-flowhist-head"></div>').appendTo(li);
                        $('<span class="red-ui-flowhist-rev"></span>').text("#" + e.revision).appendTo(head);
                        $('<span class="red-ui-flowhist-kind"></span>').text(e.change).appendTo(head);
                        $('<span class="red-ui-flowhist-time"></span>').text(ago(e.time)).attr("title", new Date(e.time).toLocaleString()).appendTo(head);
                        var by = who(e, t);
                        $('<div class="red-ui-flowhist-actor"></div>').text(by.user + (by.via ? " " + by.via : "") + (e.actor && e.actor.channel ? " · " + t("channelClaim", { channel: e.actor.channel }) : "")).appendTo(li);
                        if (e.reason) { $('<div class="red-ui-flowhist-reason"></div>').text(t("reason", { reason: e.reason })).appendTo(li); }
                        var props = (e.properties || []).map(function (p) { return p.name; }).join(", ");
                        $('<div class="red-ui-flowhist-summary"></div>').text(props).appendTo(li);
                        $('<button type="button" class="red-ui-button red-ui-button-small red-ui-flowhist-open-diff"></button>').text(t("node.openDiff")).on("click", function () {
                            RED.tray.close(function () { showDiff(Math.max(0, e.revision - 1), e.revision, e); });
                        }).appendTo(li);
                    });
                    done();
                }).fail(function (xhr) { body.text(t("error", { message: failure(xhr) })); done(); });
            }, null);
        }

        // The workspace's context menu has no extension point: the item is
        // added to the menu the editor has just built, for one selected node.
        function hookContextMenu() {
            if (!RED.contextMenu || typeof RED.contextMenu.show !== "function") { return; }
            var show = RED.contextMenu.show;
            RED.contextMenu.show = function (options) {
                show.apply(this, arguments);
                var sel = RED.view.selection();
                if (!options || options.type !== "workspace" || !sel.nodes || sel.nodes.length !== 1) { return; }
                var node = sel.nodes[0];
                var menu = $("#red-ui-workspace-context-menu");
                var ul = menu.children("ul").first();
                if (!ul.length) { ul = menu.is("ul") ? menu : menu.find("ul").first(); }
                var li = $('<li class="red-ui-flowhist-menu"></li>');
                $('<a href="#" tabindex="-1" class="red-ui-flowhist-menu-item"></a>').append($('<span class="red-ui-menu-label"></span>').text(t("node.menu"))).on("click", function (ev) {
                    ev.preventDefault();
                    RED.contextMenu.hide();
                    showNodeHistory(node.id);
                }).appendTo(li);
                ul.prepend(li);
            };
        }

        function init() {
            api("GET", "config").done(function (c) {
                config = c;
                if (c.pageSize > 0) { PAGE = c.pageSize; }
                content = $('<div class="red-ui-flowhist"></div>').attr("data-namespace", c.namespace);
                // The tab's header, as the Info and Help tabs have theirs.
                var toolbar = $('<div class="red-ui-sidebar-header red-ui-flowhist-toolbar"></div>').appendTo(content);
                $('<span class="red-ui-flowhist-ns"></span>').text(t("title", { namespace: c.namespace })).appendTo(toolbar);
                var tools = $('<span class="button-group"></span>').appendTo(toolbar);
                $('<a href="#" class="red-ui-sidebar-header-button red-ui-flowhist-filter-toggle" role="button"><i class="fa fa-filter"></i></a>').attr("title", t("filters")).attr("aria-label", t("filters")).on("click", function (ev) {
                    ev.preventDefault();
                    var f = content.find(".red-ui-flowhist-filters").toggleClass("open");
                    $(this).toggleClass("selected", f.hasClass("open"));
                }).appendTo(tools);
                $('<a href="#" class="red-ui-sidebar-header-button red-ui-flowhist-refresh" role="button"><i class="fa fa-refresh"></i></a>').attr("title", t("refresh")).attr("aria-label", t("refresh")).on("click", function (ev) {
                    ev.preventDefault();
                    loadPage(true);
                }).appendTo(tools);

                // The current staged rollout (resources/rollout.js), under the header.
                if (typeof window !== "undefined" && window.FlowhistRollout) { window.FlowhistRollout.mount(RED, $, content, api); }
                var f = $('<div class="red-ui-flowhist-filters"></div>').appendTo(content);
                var row = function (label, input) {
                    var r = $('<div class="red-ui-flowhist-row"></div>').appendTo(f);
                    var id = "red-ui-flowhist-f-" + label;
                    $("<label></label>").attr("for", id).text(t(label)).appendTo(r);
                    input.attr("id", id).appendTo(r);
                    return input;
                };
                var kind = row("kind", $('<select class="red-ui-flowhist-f-kind"></select>'));
                $('<option value=""></option>').text(t("allKinds")).appendTo(kind);
                (c.kinds || []).forEach(function (k) { $("<option></option>").attr("value", k).text(t("kinds." + k)).appendTo(kind); });
                var actor = row("actor", $('<input type="text" class="red-ui-flowhist-f-actor">'));
                var since = row("since", $('<input type="datetime-local" class="red-ui-flowhist-f-since">'));
                var until = row("until", $('<input type="datetime-local" class="red-ui-flowhist-f-until">'));
                var iso = function (v) { return v ? new Date(v).toISOString() : ""; };
                var apply = function () {
                    filters = { kind: kind.val(), actor: $.trim(actor.val()), since: iso(since.val()), until: iso(until.val()) };
                    loadPage(true);
                };
                var buttons = $('<div style="display:flex; gap:6px; justify-content:flex-end"></div>').appendTo(f);
                $('<button type="button" class="red-ui-button red-ui-flowhist-f-apply"></button>').text(t("apply")).on("click", apply).appendTo(buttons);
                $('<button type="button" class="red-ui-button"></button>').text(t("clear")).on("click", function () {
                    kind.val(""); actor.val(""); since.val(""); until.val(""); apply();
                }).appendTo(buttons);
                f.on("keydown", "input", function (ev) { if (ev.key === "Enter") { apply(); } });

                $('<div class="red-ui-flowhist-status"></div>').text(t("compareHint")).css("font-size", "0.85em").appendTo(content);
                list = $('<ul class="red-ui-flowhist-list" role="list"></ul>').appendTo(content);
                status = $('<div class="red-ui-flowhist-status red-ui-flowhist-state"></div>').appendTo(list.parent());
                moreButton = $('<button type="button" class="red-ui-button red-ui-flowhist-more"></button>').text(t("loadMore")).on("click", function () { loadPage(false); }).hide().appendTo(content);
                status.insertAfter(list);
                list.on("scroll", function () {
                    if (nextCursor && this.scrollTop + this.clientHeight > this.scrollHeight - 60) { loadPage(false); }
                });

                RED.actions.add("flowhist:show-history-tab", function () { RED.sidebar.show("flowhist-history"); });
                RED.actions.add("flowhist:show-node-history", function () { showNodeHistory(); });
                RED.sidebar.addTab({
                    id: "flowhist-history",
                    label: t("label"),
                    name: t("name"),
                    iconClass: "fa fa-history",
                    content: content,
                    enableOnEdit: true,
                    action: "flowhist:show-history-tab",
                    onchange: function () { if (!list.children().length && !loading) { loadPage(true); } }
                });
                hookContextMenu();
                // Views in files of their own (resources/promotion.js) add
                // themselves to window.flowhistViews, or, loaded later, find
                // window.flowhistSidebar: each gets the sidebar and the parts
                // it shares.
                var sidebar = { RED: RED, $: $, config: c, content: content, api: api, failure: failure, openTray: openTray, renderDiff: renderDiff, escapeHTML: escapeHTML, reload: function () { loadPage(true); } };
                window.flowhistSidebar = sidebar;
                (window.flowhistViews || []).forEach(function (v) { v(sidebar); });
                RED.comms.subscribe(TOPIC, function (topic, msg) {
                    if (msg && msg.revision > newest && (loading || list.children().length)) { loadNewer(); }
                });
            }).fail(function () {
                // No flowhist here (a worker, turned off, or another storage).
            });
        }

        init();
    }

    return {
        start: start,
        escapeHTML: escapeHTML,
        escapeValues: escapeValues,
        kindOf: kindOf,
        relative: relative,
        names: names,
        refName: refName,
        who: who,
        isQuiet: isQuiet,
        historyQuery: historyQuery,
        valueText: valueText,
        tokens: tokens,
        diffLines: diffLines,
        monacoParts: monacoParts
    };
});
