// happner-go dashboard: logs in with the node's browser client
// (/browser_client), subscribes to the snapshots the cluster's members
// publish and draws them. Plain JavaScript, no build step, no dependency.
(function () {
  'use strict';

  var NODES = '/_SYSTEM/DASHBOARD/nodes/*';
  var state = {
    client: null,
    self: null, // the name of the node serving the page
    nodes: new Map(), // name -> {snap, at}
    pending: false,
    connected: false, // the page's connection to the serving node is up
    since: 0, // when it last came up: snapshots are judged fresh from then
    drawn: {}, // the HTML last drawn per part, so that unchanged parts are left alone
  };

  function $(id) {
    return document.getElementById(id);
  }

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function fmtRate(x) {
    x = Number(x) || 0;
    if (x === 0) return '0';
    if (x < 10) return x.toFixed(1);
    return Math.round(x).toLocaleString('en');
  }

  function fmtCount(x) {
    return Math.round(Number(x) || 0).toLocaleString('en');
  }

  function fmtMs(v) {
    if (v == null) return '–';
    if (v < 1) return v.toFixed(2) + ' ms';
    if (v < 10) return v.toFixed(1) + ' ms';
    if (v < 10000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(1) + ' s';
  }

  function fmtUptime(sec) {
    sec = Math.max(0, Math.floor(sec || 0));
    var d = Math.floor(sec / 86400);
    var h = Math.floor((sec % 86400) / 3600);
    var m = Math.floor((sec % 3600) / 60);
    var s = sec % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm'; // no seconds past the first minute: a card does not change every second
    return s + 's';
  }

  function fmtTime(ms) {
    return new Date(ms).toLocaleTimeString('en-GB');
  }

  function show(id, on) {
    $(id).hidden = !on;
  }

  function setConn(kind, text) {
    $('conn').setAttribute('data-state', kind);
    $('conn-text').textContent = text;
  }

  // ------------------------------------------------------------ session

  async function start() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    setInterval(scheduleRender, 250); // members going stale show without new data
    var client;
    try {
      // insecure nodes accept this at once; secure ones when the browser
      // still has the session cookie of an earlier login
      // a page watches a cluster: it tries again every few seconds at most, not
      // the client's default of minutes
      client = await HappnClient.create({ config: { useCookie: true, reconnect: { max: 5e3 } } });
    } catch (e) {
      showLogin('');
      return;
    }
    await connected(client);
  }

  function showLogin(message) {
    setConn('connecting', 'log in');
    $('where').textContent = location.host;
    show('view', false);
    show('denied', false);
    show('logout', false);
    show('login', true);
    $('login-error').textContent = message;
    $('password').focus();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    $('login-button').disabled = true;
    $('login-error').textContent = '';
    try {
      var client = await HappnClient.create({
        config: { username: $('username').value, password: $('password').value, reconnect: { max: 5e3 } },
      });
      $('password').value = '';
      await connected(client);
    } catch (e) {
      $('login-error').textContent = (e && e.message) || String(e);
    } finally {
      $('login-button').disabled = false;
    }
  }

  async function onLogout() {
    var c = state.client;
    state.client = null;
    state.nodes.clear();
    if (c) {
      try {
        await c.logout();
      } catch (e) {
        // the session is ended either way
      }
    }
    showLogin('');
  }

  async function connected(client) {
    state.client = client;
    state.self = (client.serverInfo && client.serverInfo.name) || null;
    var secure = !!(client.serverInfo && client.serverInfo.secure);
    try {
      await client.on(NODES, { event_type: 'set' }, onSnapshot);
    } catch (e) {
      var user = client.session && client.session.user ? client.session.user.username : 'this user';
      show('login', false);
      show('denied', true);
      show('logout', secure);
      setConn('lost', 'no access');
      $('denied-text').textContent =
        user + ' may not read the dashboard data (' + ((e && e.message) || e) + '). ' +
        'Grant its group the "on" permission on /_SYSTEM/DASHBOARD/*, or log in as _ADMIN.';
      return;
    }
    client.onEvent('connection-ended', function () {
      state.connected = false;
      setConn('lost', 'connection lost');
      scheduleRender();
    });
    client.onEvent('reconnect-scheduled', function () {
      state.connected = false;
      setConn('lost', 'reconnecting…');
      scheduleRender();
    });
    client.onEvent('reconnect-successful', function () {
      state.connected = true;
      state.since = Date.now();
      setConn('live', 'live');
      scheduleRender();
    });
    client.onEvent('session-ended', function () {
      showLogin('The session ended: log in again.');
    });
    show('login', false);
    show('denied', false);
    show('logout', secure);
    show('view', true);
    state.connected = true;
    state.since = Date.now();
    setConn('live', 'live');
    scheduleRender();
  }

  function onSnapshot(data, meta) {
    if (!data || typeof data !== 'object') return;
    var name = data.name || (meta && meta.path ? meta.path.split('/').pop() : '');
    if (!name) return;
    state.nodes.set(name, { snap: data, at: Date.now() });
    scheduleRender();
  }

  function scheduleRender() {
    if (state.pending || !state.client) return;
    state.pending = true;
    requestAnimationFrame(function () {
      state.pending = false;
      render();
    });
  }

  // ------------------------------------------------------------ model

  // selfEntry is the serving node's latest snapshot, or any when its
  // name is not known.
  function selfEntry() {
    if (state.self && state.nodes.has(state.self)) return state.nodes.get(state.self);
    var first = null;
    state.nodes.forEach(function (e) {
      if (!first) first = e;
    });
    return first;
  }

  // members lists every member to draw, with its state: up, unstable,
  // waiting (in the registry, no snapshot yet) or gone.
  function members(now) {
    var self = selfEntry();
    var stale = self ? self.snap.staleMs || 3 * self.snap.intervalMs || 3000 : 3000;
    var byName = new Map();
    if (self && self.snap.members) {
      self.snap.members.forEach(function (m) {
        byName.set(m.name, m);
      });
    }
    state.nodes.forEach(function (_, name) {
      if (!byName.has(name)) byName.set(name, null);
    });
    var out = [];
    byName.forEach(function (m, name) {
      var e = state.nodes.get(name) || null;
      var st = 'up';
      var note = '';
      if (m && m.gone) {
        st = 'gone';
        note = 'left the cluster at ' + fmtTime(m.leftAt);
      } else if (self && self.snap.members && !m) {
        st = 'gone';
        note = 'no longer in the cluster';
      } else if (!e) {
        st = 'waiting';
        note = 'waiting for its first snapshot';
      } else if (!state.connected) {
        // the page cannot hear from the cluster: its last figures are
        // shown as they were, not taken for members gone
        note = 'as of ' + fmtTime(e.at) + ': the connection to ' + ((self && self.snap.name) || location.host) + ' is lost';
      } else if (now - Math.max(e.at, state.since) > stale) {
        st = 'gone';
        note = 'no snapshot for ' + fmtUptime((now - e.at) / 1000);
      } else if (e.snap.status !== 'STABLE' && e.snap.status !== 'STARTED') {
        st = 'unstable';
      }
      out.push({ name: name, member: m, entry: e, state: st, note: note, self: name === (self && self.snap.name) });
    });
    out.sort(function (a, b) {
      if (a.self !== b.self) return a.self ? -1 : 1;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    return out;
  }

  // ------------------------------------------------------------ drawing

  function render() {
    var now = Date.now();
    var self = selfEntry();
    if (!self) {
      $('where').textContent = location.host;
      draw('members', '<div class="card none">Waiting for the first snapshot…</div>');
      return;
    }
    var s = self.snap;
    $('where').textContent = (s.cluster ? 'cluster ' + s.cluster + ' · ' : 'mesh ' + s.domain + ' · ') + 'served by ' + s.name;
    var list = members(now);
    renderSummary(list);
    drawCards(list.map(memberCard));
    renderWarnings(list);
  }

  // draw sets a part's HTML when it changed: redrawing what did not change
  // would cost the browser and lose the reader's text selection.
  function draw(id, html) {
    if (state.drawn[id] === html) return;
    state.drawn[id] = html;
    if (id === 'members') state.cards = null;
    $(id).innerHTML = html;
  }

  // drawCards redraws only the member cards that changed.
  function drawCards(cards) {
    var box = $('members');
    var last = state.cards;
    if (!last || last.length !== cards.length || box.children.length !== cards.length) {
      box.innerHTML = cards.join('');
      state.drawn.members = null;
      state.cards = cards;
      return;
    }
    for (var i = 0; i < cards.length; i++) {
      if (cards[i] !== last[i]) box.children[i].outerHTML = cards[i];
    }
    state.cards = cards;
  }

  function renderSummary(list) {
    var up = 0;
    var gone = 0;
    var calls = 0;
    var events = 0;
    var conns = 0;
    var errors = 0;
    list.forEach(function (m) {
      if (m.state === 'gone') {
        gone++;
        return;
      }
      if (m.state !== 'waiting') up++;
      if (!m.entry) return;
      var s = m.entry.snap;
      events += s.eventsPerSecond || 0;
      conns += s.connections || 0;
      (s.components || []).forEach(function (c) {
        calls += c.callsPerSecond || 0;
        errors += c.errors || 0;
      });
    });
    var stats = [
      ['members up', up + ' / ' + list.length, false],
      ['gone', gone, gone > 0],
      ['calls / s', fmtRate(calls), false],
      ['events / s', fmtRate(events), false],
      ['connections', fmtCount(conns), false],
      ['call errors', fmtCount(errors), errors > 0],
    ];
    draw('summary', stats
      .map(function (st) {
        return '<div class="stat' + (st[2] ? ' bad' : '') + '"><div class="v">' + esc(st[1]) + '</div><div class="k">' + esc(st[0]) + '</div></div>';
      })
      .join(''));
  }

  function fact(label, value) {
    return '<div><dt>' + esc(label) + '</dt><dd>' + esc(value) + '</dd></div>';
  }

  function memberCard(m) {
    var s = m.entry ? m.entry.snap : null;
    var status = m.state === 'gone' ? 'GONE' : s ? s.status : m.member ? m.member.status : '';
    var badgeClass = m.state === 'up' ? '' : ' ' + m.state;
    var html = '<article class="card member" data-member="' + esc(m.name) + '" data-state="' + m.state + '">';
    html += '<header><h3>' + esc(m.name) + '</h3><span class="badge' + badgeClass + '">' + esc(status) + '</span>';
    if (m.self) html += '<span class="badge self">this node</span>';
    html += '</header>';
    var service = (s && s.service) || (m.member && m.member.service) || '';
    var where = [];
    if (service) where.push('service ' + service);
    if (s && s.address) where.push('clients ' + s.address);
    var url = (s && s.url) || (m.member && m.member.url);
    if (url) where.push(url);
    html += '<div class="addr">' + esc(where.join(' · ')) + '</div>';
    if (m.note) html += '<div class="addr">' + esc(m.note) + '</div>';
    if (!s) return html + '</article>';
    var live = m.state !== 'gone';
    var rate = function (x) {
      return live ? fmtRate(x) : '–'; // a gone member's last rates are not current
    };
    var calls = 0;
    (s.components || []).forEach(function (c) {
      calls += c.callsPerSecond || 0;
    });
    html += '<dl class="facts">';
    html += fact('uptime', fmtUptime(s.uptime + (m.state === 'gone' ? 0 : (Date.now() - m.entry.at) / 1000)));
    html += fact('connections', fmtCount(s.connections));
    html += fact('calls / s', rate(calls));
    html += fact('events / s', rate(s.eventsPerSecond));
    if (s.cluster) {
      html += fact('replicated in/out /s', rate(s.replication.inPerSecond) + ' / ' + rate(s.replication.outPerSecond));
      html += fact('security sync in/out', fmtCount(s.securitySync.in) + ' / ' + fmtCount(s.securitySync.out));
    }
    html += '</dl>';
    html += componentsTable(s.components || [], rate);
    return html + '</article>';
  }

  function componentsTable(comps, rate) {
    if (!comps.length) return '<div class="none">no components</div>';
    var html = '<table><thead><tr><th>component / method</th><th>calls/s</th><th class="hide-phone">calls</th><th>errors</th><th>p95</th></tr></thead><tbody>';
    comps.forEach(function (c) {
      html += '<tr class="component" data-component="' + esc(c.name) + '" data-version="' + esc(c.version) + '">';
      html += '<td>' + esc(c.name) + ' <span class="ver">' + esc(c.version) + '</span></td>';
      html += cells(c, rate) + '</tr>';
      (c.methods || []).forEach(function (meth) {
        html += '<tr class="method" data-method="' + esc(c.name + '.' + meth.name) + '" data-calls="' + (meth.calls || 0) + '">';
        html += '<td>' + esc(meth.name) + '</td>' + cells(meth, rate) + '</tr>';
      });
    });
    return html + '</tbody></table>';
  }

  function cells(x, rate) {
    var errors = (x.errors || 0) + (x.denied || 0);
    return (
      '<td>' + rate(x.callsPerSecond) + '</td>' +
      '<td class="hide-phone">' + fmtCount(x.calls) + '</td>' +
      '<td' + (errors ? ' class="err"' : '') + '>' + fmtCount(errors) + '</td>' +
      '<td>' + fmtMs(x.p95Ms) + '</td>'
    );
  }

  function renderWarnings(list) {
    var items = [];
    var self = selfEntry();
    list.forEach(function (m) {
      if (!m.entry) return;
      (m.entry.snap.warnings || []).forEach(function (w) {
        // membership changes as the serving node saw them; missing
        // dependencies as each member reports its own
        if (w.kind === 'dependency-missing') items.push({ time: w.time, kind: w.kind, text: m.name + ': ' + w.message });
        else if (m.entry === self) items.push({ time: w.time, kind: w.kind, text: w.message });
      });
      if (m.state === 'gone' && !(m.member && m.member.gone) && m.entry) {
        items.push({ time: m.entry.at, kind: 'member-left', text: 'no snapshot from ' + m.name + ' since ' + fmtTime(m.entry.at) });
      }
    });
    items.sort(function (a, b) {
      return b.time - a.time;
    });
    items = items.slice(0, 20);
    draw('warnings', items.length
      ? items
          .map(function (w) {
            return '<li class="' + esc(w.kind) + '" data-kind="' + esc(w.kind) + '"><time>' + esc(fmtTime(w.time)) + '</time>' + esc(w.text) + '</li>';
          })
          .join('')
      : '<li class="muted">none</li>');
  }

  start();
})();
