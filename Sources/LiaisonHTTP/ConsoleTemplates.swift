/// The web console's Mustache templates, compiled into the binary: nodes
/// run on air-gapped networks, so the console has no external assets, no
/// scripts and no files to install. `{{x}}` is HTML-escaped by Mustache;
/// `{{{body}}}` is only ever the output of another template of this file.
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "dashboard": dashboard, "items": items, "item": item, "compose": compose, "ledger": ledger,
        "refusal": refusal, "users": users, "agreement": agreement, "incidents": incidents, "consents": consents,
    ]

    static let style = """
        *{box-sizing:border-box}html,body{min-height:100vh}body{margin:0;display:flex;flex-direction:column;font:15px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK KR","Noto Sans CJK JP",sans-serif;color:#1b1f24;background:#f3f4f6}
        .banner{font-weight:700;text-align:center;padding:4px 8px;letter-spacing:.04em;font-size:14px;position:sticky;z-index:2}#banner-top{top:0}#banner-bottom{bottom:0}
        header{display:flex;align-items:center;gap:18px;padding:10px 22px;background:#1f2937;color:#fff}
        header .node{font-weight:700;font-size:17px}header nav a{color:#d1d5db;text-decoration:none;margin-right:14px}
        header nav a.on{color:#fff;border-bottom:2px solid #fff}header .who{margin-left:auto;font-size:13px;color:#d1d5db}
        header form{display:inline;margin:0}header button{background:none;border:1px solid #6b7280;color:#e5e7eb;border-radius:4px;padding:2px 8px;cursor:pointer}
        main{flex:1;width:100%;max-width:1180px;margin:18px auto;padding:0 18px}h1{font-size:22px;margin:6px 0 14px}h2{font-size:17px;margin:22px 0 8px}
        .card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px;margin-bottom:16px}
        table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
        th{color:#4b5563;font-weight:600;font-size:13px}code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:12.5px}
        .pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
        .ok{background:#dcfce7;color:#166534}.warn{background:#fef3c7;color:#92400e}.bad{background:#fee2e2;color:#991b1b}.info{background:#e0e7ff;color:#3730a3}
        .mark{display:inline-block;padding:1px 7px;border-radius:4px;font-weight:700;font-size:13px}
        .alarm{background:#fee2e2;border:1px solid #fca5a5;color:#991b1b;border-radius:6px;padding:8px 12px;margin:8px 0}
        .refusal{border-left:5px solid #b91c1c}.article{font-size:20px;font-weight:700;color:#b91c1c}
        label{display:block;font-weight:600;font-size:13px;margin:10px 0 4px}input[type=text],input[type=password],select,textarea{width:100%;padding:7px 9px;border:1px solid #cbd5e1;border-radius:5px;font:inherit}
        textarea{min-height:140px}.row{display:flex;gap:16px}.row>div{flex:1}.checks label{display:inline-block;font-weight:400;margin-right:14px}
        button.primary{background:#1d4ed8;color:#fff;border:0;border-radius:5px;padding:8px 16px;font-weight:600;cursor:pointer;margin-top:12px}
        button.secondary{background:#fff;color:#1d4ed8;border:1px solid #1d4ed8;border-radius:5px;padding:7px 14px;font-weight:600;cursor:pointer;margin-top:12px}
        .muted{color:#6b7280}.error{color:#991b1b;font-weight:600}.content{white-space:pre-wrap;background:#f9fafb;border:1px solid #e5e7eb;border-radius:6px;padding:12px}
        .timeline{list-style:none;padding:0;margin:4px 0}.timeline li{padding:2px 0 2px 14px;border-left:2px solid #cbd5e1;font-size:13px}
        .login{max-width:380px;margin:60px auto}
        """

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
        <title>{{title}} — Liaison {{party}}</title><style>{{{style}}}</style></head>
        <body>
        <div class="banner" id="banner-top" style="background:{{banner.background}};color:{{banner.foreground}}">{{banner.text}}</div>
        <header><span class="node">Liaison · {{party}}</span>
        {{#user}}<nav>{{#nav}}<a href="{{href}}"{{#on}} class="on"{{/on}}>{{name}}</a>{{/nav}}</nav>
        <span class="who">{{displayName}} ({{name}}) · {{roles}} · clearance {{clearance}}</span>
        <form method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button>Log out</button></form>{{/user}}
        </header>
        <main>{{{body}}}</main>
        <div class="banner" id="banner-bottom" style="background:{{banner.background}};color:{{banner.foreground}}">{{banner.text}}</div>
        </body></html>
        """

    static let login = """
        <div class="card login"><h1>Log in to {{party}}'s node</h1>
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/login{{#next}}?next={{next}}{{/next}}">
        <label for="name">User name</label><input type="text" id="name" name="name" value="{{name}}" autocomplete="username" required>
        <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
        <button class="primary" type="submit">Log in</button></form>
        <p class="muted">Every login, read and refusal is recorded in this node's ledger.</p></div>
        """

    static let dashboard = """
        <h1>Dashboard</h1>
        {{#alarms}}<div class="alarm"><b>Alarm — exchange with {{party}} stopped:</b> {{alarm}}
        {{#canAcknowledge}}<form method="post" action="/peers/{{party}}/acknowledge" style="margin-top:6px"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary" type="submit">Acknowledge (exchange resumes)</button></form>{{/canAcknowledge}}</div>{{/alarms}}
        <div class="card"><h2>Agreements</h2><table id="agreements">
        <tr><th>Agreement</th><th>Parties</th><th>State</th><th>Next deadlines</th><th>Timeline</th></tr>
        {{#agreements}}<tr><td><b><a href="/agreements/{{id}}">{{id}}</a></b><br><span class="muted">{{title}}</span></td><td>{{parties}}</td>
        <td><span class="pill {{tone}}">{{phase}}</span>{{#since}}<br><span class="muted">since {{since}}</span>{{/since}}</td>
        <td>{{#deadlines}}{{.}}<br>{{/deadlines}}{{^deadlines}}<span class="muted">none</span>{{/deadlines}}</td>
        <td><ul class="timeline">{{#events}}<li>{{at}} — {{phase}}: {{cause}}</li>{{/events}}</ul></td></tr>{{/agreements}}
        </table></div>
        <div class="card"><h2>Peers</h2><table id="peers">
        <tr><th>Peer</th><th>Queued</th><th>In flight</th><th>Delivered</th><th>Refused</th><th>Lag</th><th>Last success</th><th>State</th></tr>
        {{#peers}}<tr><td><b>{{party}}</b><br><span class="muted mono">{{endpoint}}</span></td><td>{{queued}}</td><td>{{inFlight}}</td><td>{{delivered}}</td>
        <td>{{refused}}</td><td>{{lag}}</td><td>{{lastSuccess}}</td>
        <td>{{#alarm}}<span class="pill bad">alarm</span>{{/alarm}}{{^alarm}}{{#lastError}}<span class="pill warn">retrying</span><br><span class="muted">{{lastError}}</span>{{/lastError}}{{^lastError}}<span class="pill ok">in sync</span>{{/lastError}}{{/alarm}}</td></tr>{{/peers}}
        </table></div>
        """

    static let agreement = """
        <h1>{{id}}</h1><p class="muted">{{title}} · parties {{parties}}</p>
        <div class="card"><h2>State now</h2><p><span class="pill {{tone}}" id="phase">{{phase}}</span>{{#since}} <span class="muted">since {{since}}</span>{{/since}}</p>
        <p>{{#deadlines}}{{.}}<br>{{/deadlines}}{{^deadlines}}<span class="muted">No deadline ahead.</span>{{/deadlines}}</p>
        <ul class="timeline">{{#events}}<li>{{at}} — {{phase}}: {{cause}}</li>{{/events}}</ul></div>
        <div class="card"><h2>Lifecycle statements (Art 21)</h2><table id="statements">
        <tr><th>At</th><th>Party</th><th>Act</th><th>Statement</th><th>Details</th></tr>
        {{#statements}}<tr><td>{{at}}</td><td>{{party}}</td><td>{{act}}</td><td class="mono">{{id}}</td><td>{{details}}</td></tr>{{/statements}}
        {{^statements}}<tr><td colspan="5" class="muted">None.</td></tr>{{/statements}}
        </table></div>
        {{#canIssue}}<div class="card"><h2>Issue a statement as {{party}}</h2>
        <p class="muted">Checked against the agreement's rules as they stand now; once accepted it is signed by this node, recorded, and sent to the other parties. Fields an act does not take must be left empty.</p>
        <form method="post" action="/agreements/{{id}}/statements" id="issue"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="act">Act</label><select id="act" name="act">{{#acts}}<option>{{.}}</option>{{/acts}}</select></div>
        <div><label for="effective">Effective (RFC 3339, optional)</label><input type="text" id="effective" name="effective" placeholder="2027-02-22T00:00:00+09:00"></div></div>
        <div class="row"><div><label for="notice">Notice (suspension, lifting, withdrawal)</label><input type="text" id="notice" name="notice"></div>
        <div><label for="proposal">Proposal (amendment, mutual termination)</label><input type="text" id="proposal" name="proposal"></div></div>
        <label for="condition">Condition (suspension)</label><input type="text" id="condition" name="condition">
        <label for="summary">Summary (amendment)</label><input type="text" id="summary" name="summary">
        <label for="note">Note for the record</label><input type="text" id="note" name="note">
        <button class="primary" type="submit">Sign, record and send</button></form></div>{{/canIssue}}
        """

    static let consents = """
        <h1>Consents (Art 6(a))</h1>
        <div class="card"><h2>Asked of {{party}}, as originator</h2><table id="received">
        <tr><th>At</th><th>Request</th><th>May</th><th>Item</th><th>Why</th><th>State</th></tr>
        {{#received}}<tr><td>{{at}}</td><td class="mono">{{id}}</td><td>{{holder}} pass it to <b>{{thirdParty}}</b><br><span class="muted">for {{purpose}}</span></td>
        <td><a href="/items/{{item}}" class="mono">{{shortItem}}</a></td><td>{{reason}}</td>
        <td><span class="pill {{tone}}">{{state}}</span>{{#answer}}<br><span class="muted">{{answer}}</span>{{/answer}}
        {{#pending}}<form method="post" action="/consents/{{id}}/grant"><input type="hidden" name="csrf" value="{{csrf}}"><label for="days-{{id}}">Days</label><input type="text" id="days-{{id}}" name="days" value="30"><button class="primary" type="submit">Grant and sign</button></form>
        <form method="post" action="/consents/{{id}}/deny"><input type="hidden" name="csrf" value="{{csrf}}"><label for="deny-{{id}}">Reason</label><input type="text" id="deny-{{id}}" name="reason"><button class="secondary" type="submit">Deny</button></form>{{/pending}}</td></tr>{{/received}}
        {{^received}}<tr><td colspan="6" class="muted">No holder has asked.</td></tr>{{/received}}
        </table></div>
        <div class="card"><h2>Asked by {{party}}, as holder</h2><table id="sent">
        <tr><th>At</th><th>Request</th><th>Of</th><th>To pass to</th><th>Item</th><th>State</th></tr>
        {{#sent}}<tr><td>{{at}}</td><td class="mono">{{id}}</td><td>{{originator}}</td><td>{{thirdParty}}</td><td><a href="/items/{{item}}" class="mono">{{shortItem}}</a></td>
        <td><span class="pill {{tone}}">{{state}}</span>{{#answer}}<br><span class="muted">{{answer}}</span>{{/answer}}</td></tr>{{/sent}}
        {{^sent}}<tr><td colspan="6" class="muted">None.</td></tr>{{/sent}}
        </table></div>
        """

    static let incidents = """
        <h1>Loss and compromise (Art 17)</h1>
        <div class="card"><p class="muted">Reports made at this node, and holders' reports received as the items' originator, newest first. A further report on an incident moves it to a later stage: suspected, investigating, findings, measures.</p>
        <table id="incidents"><tr><th>At</th><th>Incident</th><th>Stage</th><th>Reported by</th><th>Item</th><th>What happened</th></tr>
        {{#incidents}}<tr><td>{{at}}</td><td class="mono">{{incident}}</td><td><span class="pill {{tone}}">{{stage}}</span></td>
        <td>{{reporter}}{{#received}} <span class="muted">(received)</span>{{/received}}</td><td><a href="/items/{{item}}" class="mono">{{shortItem}}</a></td><td>{{description}}</td></tr>{{/incidents}}
        {{^incidents}}<tr><td colspan="6" class="muted">No loss or compromise has been reported.</td></tr>{{/incidents}}
        </table>{{#more}}<p><a href="/incidents?before={{more}}">Older reports</a></p>{{/more}}</div>
        """

    static let items = """
        <h1>Items</h1>
        <div class="card"><h2>Held here ({{heldCount}} you may read)</h2><table id="inbox">
        <tr><th>Marking</th><th>Item</th><th>From</th><th>Purpose</th><th>At</th><th>Status</th></tr>
        {{#held}}<tr><td><span class="mark" style="background:{{colour.background}};color:{{colour.foreground}}">{{marking}}</span></td>
        <td><a href="/items/{{id}}" class="mono">{{shortID}}</a><br><span class="muted">{{mediaType}}, {{size}} bytes</span></td>
        <td>{{source}}</td><td>{{purpose}}</td><td>{{at}}</td><td>{{status}}</td></tr>{{/held}}
        {{^held}}<tr><td colspan="6" class="muted">Nothing you may read is held here.</td></tr>{{/held}}
        </table></div>
        <div class="card"><h2>Sent</h2><table id="outbox">
        <tr><th>Item</th><th>To</th><th>Agreement, link</th><th>Delivery</th></tr>
        {{#sent}}<tr><td><a href="/items/{{id}}" class="mono">{{shortID}}</a></td><td>{{peer}}</td><td>{{agreement}} #{{link}}</td>
        <td><span class="pill {{tone}}">{{state}}</span>{{#detail}}<br><span class="muted">{{detail}}</span>{{/detail}}</td></tr>{{/sent}}
        {{^sent}}<tr><td colspan="4" class="muted">Nothing sent yet.</td></tr>{{/sent}}
        </table></div>
        """

    static let item = """
        <h1>Item <span class="mono">{{id}}</span></h1>
        <div class="card"><h2>Markings (Art 4)</h2><table id="markings">
        <tr><th>Originator's marking</th><td><span class="mark" style="background:{{originColour.background}};color:{{originColour.foreground}}">{{originMarking}}</span> {{originator}}</td></tr>
        <tr><th>This node's marking</th><td><span class="mark" style="background:{{colour.background}};color:{{colour.foreground}}">{{localMarking}}</span> {{party}}</td></tr>
        <tr><th>Equivalence</th><td>{{dual}}</td></tr>
        <tr><th>Releasable to</th><td>{{releasableTo}}</td></tr><tr><th>Categories</th><td>{{categories}}</td></tr>
        <tr><th>Purpose (Art 6(c))</th><td>{{purpose}}</td></tr><tr><th>Policy</th><td>{{policy}}</td></tr>
        <tr><th>Source</th><td>{{source}}</td></tr><tr><th>Status</th><td>{{status}}</td></tr></table></div>
        <div class="card"><h2>Content</h2>{{#text}}<div class="content" id="content">{{text}}</div>{{/text}}{{^text}}<p>{{mediaType}}, {{size}} bytes (not text).</p>{{/text}}
        <p class="muted">This read is entry {{readEntry}} of this node's ledger.</p></div>
        <div class="card"><h2>Provenance</h2><table id="provenance">
        <tr><th>Origin seal</th><td>{{#sealOK}}<span class="pill ok">✔ verified</span> signed by {{originator}} with its pinned key{{/sealOK}}{{^sealOK}}<span class="pill bad">✘ {{sealProblem}}</span>{{/sealOK}}</td></tr>
        {{#deliveries}}<tr><th>To {{peer}}</th><td>{{agreement}} link {{link}}: <span class="pill {{tone}}">{{state}}</span> {{detail}}
        {{#consents}}<br>consent {{id}} by {{originator}} for {{thirdParty}}, until {{expires}}{{/consents}}</td></tr>{{/deliveries}}
        {{^deliveries}}<tr><th>Deliveries</th><td class="muted">not released from this node</td></tr>{{/deliveries}}
        {{#kept}}<tr><th>Consent {{id}}</th><td><span class="pill {{tone}}">{{state}}</span> {{originator}} consents to passing it to {{thirdParty}} until {{expires}}; releases to {{thirdParty}} carry it (Art 6(a))</td></tr>{{/kept}}
        {{#reports}}<tr><th>Incident {{incident}}</th><td><span class="pill bad">{{stage}}</span> by {{reporter}} at {{at}}: {{description}}</td></tr>{{/reports}}
        </table></div>
        {{#canRelease}}<div class="card"><h2>Release</h2>
        <form method="post" action="/items/{{id}}/release"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="to">To</label><select id="to" name="to">{{#peers}}<option>{{.}}</option>{{/peers}}</select></div>
        <div><label for="agreement">Under</label><select id="agreement" name="agreement">{{#agreements}}<option>{{.}}</option>{{/agreements}}</select></div></div>
        <button class="primary" type="submit">Release</button></form></div>{{/canRelease}}
        {{#canConsent}}<div class="card"><h2>Consent to passing it on (Art 6(a))</h2>
        <form method="post" action="/items/{{id}}/consent"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="holder">Holder</label><select id="holder" name="holder">{{#peers}}<option>{{.}}</option>{{/peers}}</select></div>
        <div><label for="third">May pass it to</label><select id="third" name="third">{{#peers}}<option>{{.}}</option>{{/peers}}</select></div>
        <div><label for="days">For days</label><input type="text" id="days" name="days" value="7"></div></div>
        <label for="consent-purpose">Purpose</label><input type="text" id="consent-purpose" name="purpose" value="{{purposeValue}}">
        <button class="primary" type="submit">Sign and send the consent</button></form></div>{{/canConsent}}
        {{#canAsk}}<div class="card"><h2>Ask {{originator}} for consent to pass it on (Art 6(a))</h2>
        <form method="post" action="/items/{{id}}/consent-request" id="ask"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="third">To</label><select id="third" name="third">{{#askable}}<option>{{.}}</option>{{/askable}}</select></div>
        <div><label for="ask-purpose">Purpose</label><input type="text" id="ask-purpose" name="purpose" value="{{purposeValue}}"></div></div>
        <label for="ask-reason">Why</label><input type="text" id="ask-reason" name="reason">
        <button class="primary" type="submit">Send the request to {{originator}}</button></form></div>{{/canAsk}}
        {{#canReclassify}}<div class="card"><h2>Reclassify (Art 6(g))</h2>
        <form method="post" action="/items/{{id}}/reclassify"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="new-level">New level</label><select id="new-level" name="level">{{#levels}}<option value="{{code}}">{{marking}} ({{code}})</option>{{/levels}}</select></div>
        <div><label for="reason">Reason</label><input type="text" id="reason" name="reason"></div></div>
        <button class="primary" type="submit">Reclassify and tell every holder</button></form></div>{{/canReclassify}}
        {{#canDestroy}}<div class="card"><h2>Destroy (Art 6(h))</h2>
        <form method="post" action="/items/{{id}}/destroy"><input type="hidden" name="csrf" value="{{csrf}}">
        <label for="method">Method</label><input type="text" id="method" name="method" value="cryptographic erasure of the stored copy">
        <button class="primary" type="submit">Destroy and certify to {{originator}}</button></form></div>{{/canDestroy}}
        {{#canReport}}<div class="card"><h2>Report loss or compromise (Art 17)</h2>
        <form method="post" action="/items/{{id}}/compromise"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="incident">Incident</label><select id="incident" name="incident"><option value="">a new incident</option>{{#ownIncidents}}<option>{{.}}</option>{{/ownIncidents}}</select></div>
        <div><label for="stage">Stage</label><select id="stage" name="stage"><option>suspected</option><option>investigating</option><option>findings</option><option>measures</option></select></div></div>
        <label for="description">What happened</label><textarea id="description" name="description"></textarea>
        <button class="primary" type="submit">Report to {{originator}} now</button></form></div>{{/canReport}}
        """

    static let compose = """
        <h1>Compose</h1>
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/compose" class="card"><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="level">Level ({{party}}'s scheme)</label><select id="level" name="level">{{#levels}}<option value="{{code}}"{{#selected}} selected{{/selected}}>{{marking}} ({{code}})</option>{{/levels}}</select></div>
        <div><label for="purpose">Purpose</label><input type="text" id="purpose" name="purpose" value="{{purpose}}"></div></div>
        <label>Releasable to</label><div class="checks">{{#parties}}<label><input type="checkbox" name="rel" value="{{code}}"{{#checked}} checked{{/checked}}> {{code}}</label>{{/parties}}</div>
        <label for="categories">Restrictive categories (TAG:VALUE, comma-separated)</label><input type="text" id="categories" name="categories" value="{{categories}}">
        <label for="content">Content (text)</label><textarea id="content" name="content">{{content}}</textarea>
        <div class="row"><div><label for="to">Release to (optional)</label><select id="to" name="to"><option value="">— keep here —</option>{{#peers}}<option{{#selected}} selected{{/selected}}>{{code}}</option>{{/peers}}</select></div>
        <div><label for="agreement">Under</label><select id="agreement" name="agreement">{{#agreements}}<option{{#selected}} selected{{/selected}}>{{id}}</option>{{/agreements}}</select></div></div>
        {{#check}}<div class="card {{#refused}}refusal{{/refused}}" id="check" style="margin-top:14px"><b>Release check:</b> {{#refused}}<span class="pill bad">refused</span> <span class="article">{{article}}</span> {{reason}}{{/refused}}{{^refused}}<span class="pill ok">permitted</span> {{reason}}{{/refused}}</div>{{/check}}
        <button class="secondary" name="action" value="check" type="submit">Check release</button>
        <button class="primary" name="action" value="send" type="submit">Seal{{#canRelease}} and send{{/canRelease}}</button></form>
        """

    static let ledger = """
        <h1>Ledger</h1>
        <div class="card"><h2>This node's signed tree head</h2><table id="head">
        <tr><th>Entries</th><td>{{size}}</td></tr><tr><th>Root</th><td class="mono">{{root}}</td></tr><tr><th>Signed at</th><td>{{at}}</td></tr></table>
        <form method="post" action="/ledger/verify"><input type="hidden" name="csrf" value="{{csrf}}"><button class="primary" type="submit">Verify the whole ledger</button></form>
        {{#verified}}<p id="verified"><span class="pill {{tone}}">{{verdict}}</span> {{detail}}</p>{{/verified}}</div>
        <div class="card"><h2>Peers' logs (consistency, invariant 6)</h2><table id="consistency">
        <tr><th>Peer</th><th>Largest verified head</th><th>Checked</th><th>State</th></tr>
        {{#peers}}<tr><td><b>{{party}}</b></td><td>{{size}}</td><td>{{at}}</td><td>{{#alarm}}<span class="pill bad">fork or rollback</span> {{alarm}}{{/alarm}}{{^alarm}}<span class="pill ok">consistent</span>{{/alarm}}</td></tr>{{/peers}}
        </table></div>
        """

    static let users = """
        <h1>Users</h1>
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
        <div class="card"><table id="users">
        <tr><th>User</th><th>Roles</th><th>Clearance</th><th>Categories</th><th>State</th>{{#canAdminister}}<th></th>{{/canAdminister}}</tr>
        {{#users}}<tr><td><b>{{name}}</b><br><span class="muted">{{displayName}}</span></td><td>{{roles}}</td><td>{{clearance}}</td><td>{{categories}}</td>
        <td>{{#disabled}}<span class="pill bad">disabled</span>{{/disabled}}{{^disabled}}{{#locked}}<span class="pill warn">locked until {{locked}}</span>{{/locked}}{{^locked}}<span class="pill ok">active</span>{{/locked}}{{/disabled}}</td>
        {{#canAdminister}}<td><form method="post" action="/users/{{name}}/{{toggle}}"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary" type="submit">{{toggleLabel}}</button></form></td>{{/canAdminister}}</tr>{{/users}}
        </table></div>
        {{#canAdminister}}<form method="post" action="/users" class="card"><h2>Add a user</h2><input type="hidden" name="csrf" value="{{csrf}}">
        <div class="row"><div><label for="new-name">User name</label><input type="text" id="new-name" name="name"></div>
        <div><label for="display">Display name</label><input type="text" id="display" name="display"></div></div>
        <label>Roles</label><div class="checks">{{#roles}}<label><input type="checkbox" name="role" value="{{.}}"> {{.}}</label>{{/roles}}</div>
        <div class="row"><div><label for="clearance">Clearance</label><select id="clearance" name="clearance"><option value="">none</option>{{#levels}}<option value="{{code}}">{{marking}} ({{code}})</option>{{/levels}}</select></div>
        <div><label for="expires">Clearance expires (YYYY-MM-DD)</label><input type="text" id="expires" name="expires"></div></div>
        <label for="user-categories">Categories (TAG:VALUE, comma-separated)</label><input type="text" id="user-categories" name="categories">
        <label for="new-password">Initial password (12 characters at least)</label><input type="password" id="new-password" name="password" autocomplete="new-password">
        <button class="primary" type="submit">Add</button></form>{{/canAdminister}}
        """

    static let refusal = """
        <div class="card refusal" id="refusal"><h1>Refused</h1>
        {{#article}}<p class="article">{{article}}</p>{{/article}}<p>{{reason}}</p>
        {{#recorded}}<p class="muted">The refusal is recorded in this node's ledger.</p>{{/recorded}}<p><a href="{{back}}">Back</a></p></div>
        """
}
