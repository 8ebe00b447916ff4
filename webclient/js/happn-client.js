/*
 * happner-go browser happn client (served at /browser_client and as the first part of /api/client).
 *
 * Defines window.HappnClient: the happn_4 protocol over a plain WebSocket to <node>/primus, with
 * the API of the npm happn-3 client (create, login, set, get, count, remove, on, once, off,
 * offPath, offAll, publish, increment, getPaths, revokeToken, changePassword, logout, disconnect)
 * and its connection events (connection-ended, reconnect-scheduled, reconnect-successful,
 * session-ended). No other script is needed: the primus heartbeat is answered here.
 */
(function (root) {
  'use strict';

  var PROTOCOL = 'happn_4';
  var HAPPN_VERSION = '13.12.1';

  var STATUS = {
    UNINITIALIZED: 0,
    ACTIVE: 1,
    DISCONNECTED: 2,
    ERROR: 3,
    RECONNECTING: 4,
    CONNECTING: 5,
    CONNECTED: 6,
    DISCONNECTING: 7,
    CONNECT_ERROR: 8,
    RECONNECT_ACTIVE: 9,
  };

  var CONSISTENCY = { QUEUED: 0, DEFERRED: 1, TRANSACTIONAL: 2, ACKNOWLEDGED: 3 };

  var PATH_PATTERN = /^[a-zA-Z0-9/(){}+=&:%@._*\-\s]+$/;

  var browser = typeof window !== 'undefined' && typeof document !== 'undefined';

  // ---------------------------------------------------------------- helpers

  function checkPath(path, action) {
    if (typeof path !== 'string') throw new Error('Bad path [' + path + '], must be a string');
    if (action === 'set' && path.indexOf('*') > -1) {
      throw new Error("Bad path, if the action is 'set' the path cannot contain the * wildcard character");
    }
    if (!PATH_PATTERN.test(path)) {
      throw new Error(
        'Bad path, can only contain characters a-z A-Z 0-9 / & + = : @ % * ( ) _ -, ie: ' +
          'factory1@I&J(western-cape)/plant1:conveyer_2/stats=true/capacity=10%/*'
      );
    }
  }

  // wildcardMatch: '*' in pattern stands for any run of characters, '/' included.
  function wildcardMatch(pattern, text) {
    if (pattern === text) return true;
    if (pattern.indexOf('*') === -1) return false;
    var re = '^' + pattern.split('*').map(function (part) {
      return part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }).join('.*') + '$';
    return new RegExp(re).test(text);
  }

  // maybePromisify: the last argument, when a function, is a node-style callback; without one
  // the call returns a Promise of the first result, or of an array when there are several.
  function maybePromisify(fn) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      var self = this;
      if (args.length > 0 && args[args.length - 1] === undefined) args.pop();
      if (typeof args[args.length - 1] === 'function') return fn.apply(this, args);
      return new Promise(function (resolve, reject) {
        args.push(function (error, result) {
          if (error) return reject(error);
          if (arguments.length > 2) return resolve(Array.prototype.slice.call(arguments, 1));
          resolve(result);
        });
        try {
          fn.apply(self, args);
        } catch (e) {
          reject(e);
        }
      });
    };
  }

  function later(fn) {
    var args = Array.prototype.slice.call(arguments, 1);
    setTimeout(function () {
      fn.apply(null, args);
    }, 0);
  }

  // errorFromWire rebuilds an Error from a reply's _meta.error: its name, message and every
  // other field (code, reason, ...).
  function errorFromWire(wire) {
    if (wire == null) return new Error('unknown error');
    if (typeof wire !== 'object') return new Error(String(wire));
    var e = new Error(wire.message || '');
    e.name = wire.name || wire.message || 'Error';
    Object.keys(wire).forEach(function (key) {
      if (key !== 'name' && key !== 'message') e[key] = wire[key];
    });
    return e;
  }

  function encode(value) {
    // primus escapes the line and paragraph separators inside the encoded text
    return JSON.stringify(value).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  }

  function logger(name) {
    var levels = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, off: 6 };
    function threshold() {
      var wanted = (root && root.LOG_LEVEL) || 'warn';
      return levels[wanted] != null ? levels[wanted] : levels.warn;
    }
    function at(level, sink) {
      return function () {
        if (levels[level] < threshold() || typeof console === 'undefined') return;
        var args = Array.prototype.slice.call(arguments);
        args.unshift(name);
        (console[sink] || console.log).apply(console, args);
      };
    }
    return {
      $$TRACE: at('trace', 'debug'),
      $$DEBUG: at('debug', 'debug'),
      trace: at('trace', 'debug'),
      debug: at('debug', 'debug'),
      info: at('info', 'info'),
      warn: at('warn', 'warn'),
      error: at('error', 'error'),
      fatal: at('fatal', 'error'),
    };
  }

  // ---------------------------------------------------------------- cookies

  function readCookie(name) {
    if (!browser) return '';
    var prefix = name + '=';
    var parts = decodeURIComponent(document.cookie).split(';');
    for (var i = 0; i < parts.length; i++) {
      var c = parts[i].replace(/^ +/, '');
      if (c.indexOf(prefix) === 0) return c.substring(prefix.length);
    }
    return '';
  }

  function cookieText(session, secure) {
    var text = (session.cookieName || 'happn_token') + '=' + session.token + '; path=/;';
    if (session.cookieDomain) text += ' domain=' + session.cookieDomain + ';';
    if (secure) text += ' Secure;';
    return text;
  }

  var cookieWatchers = {};

  // ---------------------------------------------------------------- HappnClient

  function HappnClient() {
    this.status = STATUS.UNINITIALIZED;
    this.session = null;
    this.serverInfo = null;
  }

  HappnClient.STATUS = STATUS;
  HappnClient.CONSISTENCY = CONSISTENCY;
  HappnClient.PROTOCOL = PROTOCOL;
  HappnClient.VERSION = HAPPN_VERSION;
  HappnClient.__wildcardMatch = wildcardMatch;
  HappnClient.__maybePromisify = maybePromisify;

  /**
   * HappnClient.create([connection], [options], [callback]) connects and logs in. Options:
   * {config: {host, port, protocol, url, username, password, token, useCookie, authType}, info,
   * reconnect: {min, max, factor, retries}, socket: {timeout, pingTimeout}, callTimeout,
   * loginRetry, loginRetryInterval, cookieEventHandler, cookieName}. Promise when no callback.
   */
  HappnClient.create = maybePromisify(function (connection, options, callback) {
    if (typeof connection === 'function') {
      callback = connection;
      options = {};
      connection = null;
    }
    if (typeof options === 'function') {
      callback = options;
      options = connection || {};
      connection = null;
    }
    if (!options) options = connection || {};
    else if (connection && typeof connection === 'object') options = Object.assign({}, connection, options);

    var client = new HappnClient().client(options);
    if (typeof options.cookieEventHandler === 'function' && browser) {
      HappnClient.addCookieEventHandler(options.cookieEventHandler, options.cookieName, options.cookieEventInterval);
    }
    client.initialize(function (e) {
      if (!e) return callback(null, client);
      client.disconnect(function () {
        callback(e);
      });
    });
  });

  HappnClient.__getCookieInstance = readCookie;

  /**
   * addCookieEventHandler(handler, [cookieName], [interval]) calls handler('cookie-created' |
   * 'cookie-deleted', cookie) when the session cookie appears or goes away.
   */
  HappnClient.addCookieEventHandler = function (handler, cookieName, interval) {
    cookieName = cookieName || 'happn_token';
    interval = interval || 1000;
    var key = cookieName + '_' + interval;
    var watcher = cookieWatchers[key];
    if (!watcher) {
      var current = readCookie(cookieName);
      watcher = cookieWatchers[key] = {
        handlers: [],
        state: current === '' ? 'cookie-deleted' : 'cookie-created',
        last: current,
      };
      watcher.timer = setInterval(function () {
        var now = readCookie(cookieName);
        var event = null;
        if (now === '' && watcher.state === 'cookie-created') event = 'cookie-deleted';
        else if (now !== '' && watcher.state === 'cookie-deleted') {
          event = 'cookie-created';
          watcher.last = now;
        }
        if (!event) return;
        watcher.state = event;
        watcher.handlers.forEach(function (h) {
          h(event, watcher.last);
        });
      }, interval);
    }
    if (watcher.handlers.indexOf(handler) === -1) watcher.handlers.push(handler);
  };

  /** clearCookieEventObjects stops every cookie watcher. */
  HappnClient.clearCookieEventObjects = function () {
    Object.keys(cookieWatchers).forEach(function (key) {
      clearInterval(cookieWatchers[key].timer);
      delete cookieWatchers[key];
    });
  };

  HappnClient.prototype.client = function (options) {
    options = options || {};
    this.log = options.Logger && options.Logger.createLogger ? options.Logger.createLogger('HappnClient') : logger('HappnClient');
    this.__initializeState();
    this.__prepareOptions(options);
    this.__initializeEvents();
    return this;
  };

  HappnClient.prototype.__initializeState = function () {
    this.state = {
      events: {},
      refCount: {},
      listenerRefs: {},
      requestEvents: {},
      ackHandlers: {},
      eventHandlers: {},
      systemMessageHandlers: [],
      currentEventId: 0,
      currentListenerId: 0,
      errors: [],
      clientType: 'socket',
    };
    this.status = STATUS.UNINITIALIZED;
  };

  HappnClient.prototype.__initializeEventState = function () {
    this.state.events = {};
    this.state.refCount = {};
    this.state.listenerRefs = {};
  };

  HappnClient.prototype.__prepareOptions = function (options) {
    var o;
    if (options.config) {
      o = Object.assign({}, options.config);
      Object.keys(options).forEach(function (k) {
        if (k !== 'config' && o[k] == null) o[k] = options[k];
      });
    } else o = Object.assign({}, options);

    var page = browser && window.location ? window.location : null;
    if (o.url) {
      var parsed = new URL(o.url, page ? page.href : undefined);
      o.protocol = o.protocol || parsed.protocol.replace(':', '');
      o.host = o.host || parsed.hostname;
      o.port = o.port || parsed.port || (o.protocol === 'https' ? 443 : 80);
    }
    if (!o.protocol) o.protocol = page && page.protocol === 'https:' ? 'https' : 'http';
    if (!o.host) o.host = page && page.hostname ? page.hostname : '127.0.0.1';
    if (!o.port) {
      if (page && page.hostname === o.host) o.port = page.port || (o.protocol === 'https' ? 443 : 80);
      else o.port = 55000;
    }
    o.port = parseInt(o.port, 10);
    var defaultPort = (o.protocol === 'https' && o.port === 443) || (o.protocol === 'http' && o.port === 80);
    o.url = o.protocol + '://' + o.host + (defaultPort ? '' : ':' + o.port);

    if (!o.callTimeout) o.callTimeout = 60000;
    if (o.loginTimeout == null) o.loginTimeout = o.callTimeout;
    if (o.loginRetry == null) o.loginRetry = 4;
    if (o.loginRetryInterval == null || typeof o.loginRetryInterval !== 'number' || o.loginRetryInterval <= 0) {
      o.loginRetryInterval = 5000;
    }
    if (!o.retryOnSocketErrorMaxInterval) o.retryOnSocketErrorMaxInterval = 120e3;
    if (!o.reconnectWait) o.reconnectWait = 1e3;
    if (o.defaultVariableDepth == null) o.defaultVariableDepth = 5;

    var socket = Object.assign({}, o.socket || {});
    var reconnect = Object.assign({}, socket.reconnect || {}, o.reconnect || {});
    if (!reconnect.retries) reconnect.retries = Infinity;
    if (!reconnect.max) reconnect.max = 180e3;
    if (!reconnect.min) reconnect.min = 500;
    if (!reconnect.factor) reconnect.factor = 2;
    socket.reconnect = reconnect;
    if (o.connectTimeout != null) socket.timeout = o.connectTimeout;
    else if (socket.timeout == null) socket.timeout = 30e3;
    if (!('pingTimeout' in socket)) socket.pingTimeout = 45e3;
    o.socket = socket;

    var info = o.info != null ? o.info : {};
    if (typeof info !== 'object') info = { data: info };
    info = Object.assign({}, info);
    info._browser = info._browser || browser;
    o.info = info;
    this.options = o;
  };

  HappnClient.prototype.__initializeEvents = function () {
    var self = this;
    this.onEvent = function (eventName, handler) {
      if (!eventName) throw new Error('event name cannot be blank or null');
      if (typeof handler !== 'function') throw new Error('event handler must be a function');
      if (!self.state.eventHandlers[eventName]) self.state.eventHandlers[eventName] = [];
      self.state.eventHandlers[eventName].push(handler);
      return eventName + '|' + (self.state.eventHandlers[eventName].length - 1);
    };
    this.offEvent = function (handlerId) {
      var parts = String(handlerId).split('|');
      var list = self.state.eventHandlers[parts[0]];
      if (list) list[parseInt(parts[1], 10)] = null;
    };
    this.emit = function (eventName, data) {
      var list = self.state.eventHandlers[eventName];
      if (!list) return;
      list.slice().forEach(function (handler) {
        if (!handler) return;
        try {
          handler.call(handler, data);
        } catch (e) {
          self.log.error('event handler for ' + eventName + ' failed', e);
        }
      });
    };
  };

  HappnClient.prototype.initialize = maybePromisify(function (callback) {
    this.session = null;
    this.connect((e) => {
      if (e) return callback(e);
      this.status = STATUS.ACTIVE;
      callback(null, this);
    });
  });

  // ------------------------------------------------------------ the socket

  HappnClient.prototype.__socketURL = function () {
    var scheme = this.options.protocol === 'https' ? 'wss' : 'ws';
    var base = this.options.url.replace(/^https?/, scheme).replace(/\/+$/, '');
    var cacheBuster = Date.now().toString(36) + '-' + Math.floor(Math.random() * 1e6).toString(36);
    return base + '/primus?_primuscb=' + cacheBuster;
  };

  // __openSocket opens a WebSocket and calls back once it is open (or failed).
  HappnClient.prototype.__openSocket = function (callback) {
    var done = false;
    var ws;
    var finish = (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      callback(e, ws);
    };
    var timer = setTimeout(() => {
      finish(new Error('connection timed out'));
      try {
        ws.close();
      } catch (_) {
        /* already closing */
      }
    }, this.options.socket.timeout);
    try {
      ws = new WebSocket(this.__socketURL());
    } catch (e) {
      return finish(e);
    }
    ws.onopen = () => finish(null);
    ws.onerror = () => finish(new Error('websocket error connecting to ' + this.options.url));
    ws.onclose = (ev) => finish(new Error('websocket closed while connecting (' + ev.code + ')'));
  };

  // __attachSocket makes ws the client's socket: frames go to the protocol, a close goes to
  // the reconnection logic.
  HappnClient.prototype.__attachSocket = function (ws) {
    this.socket = ws;
    this.__serverClosed = false;
    ws.onmessage = (ev) => {
      if (this.socket !== ws) return;
      this.__onFrame(ev.data);
    };
    ws.onerror = () => {
      /* a close follows */
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.__onSocketClosed();
    };
    this.__armHeartbeat();
  };

  HappnClient.prototype.__armHeartbeat = function () {
    clearTimeout(this.__pingTimer);
    var timeout = this.options.socket.pingTimeout;
    if (!timeout) return;
    var ws = this.socket;
    this.__pingTimer = setTimeout(() => {
      if (this.socket !== ws) return;
      this.log.warn('no heartbeat from the server for ' + timeout + 'ms, reconnecting');
      this.__dropSocket();
    }, timeout);
  };

  // __dropSocket closes the current socket as if the network had dropped it.
  HappnClient.prototype.__dropSocket = function () {
    var ws = this.socket;
    if (!ws) return;
    try {
      ws.close();
    } catch (_) {
      /* already closing */
    }
    this.__onSocketClosed();
  };

  HappnClient.prototype.__write = function (value) {
    if (!this.socket || this.socket.readyState !== 1) throw new Error('socket is not open');
    this.socket.send(encode(value));
  };

  HappnClient.prototype.__onFrame = function (text) {
    var message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      this.log.warn('unparseable frame from the server', text);
      return;
    }
    if (typeof message === 'string') {
      if (message.indexOf('primus::ping::') === 0) {
        this.__armHeartbeat();
        try {
          this.__write('primus::pong::' + message.substring('primus::ping::'.length));
        } catch (_) {
          /* the socket is going away */
        }
      } else if (message === 'primus::server::close') {
        this.__serverClosed = true;
      }
      return;
    }
    try {
      this.handle_publication(message);
    } catch (e) {
      this.log.error('failed handling a frame', e);
    }
  };

  HappnClient.prototype.__onSocketClosed = function () {
    var ws = this.socket;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    this.socket = null;
    clearTimeout(this.__pingTimer);
    var deliberate = this.__closing;
    var ended = this.__serverClosed || this.status === STATUS.DISCONNECTED;
    this.status = STATUS.DISCONNECTED;
    // replies to requests sent on this socket can no longer arrive
    var pending = this.state.requestEvents;
    Object.keys(pending).forEach(function (id) {
      pending[id].handleResponse(new Error('connection-ended'));
    });
    this.emit('connection-ended', this.session ? this.session.id : undefined);
    if (deliberate || ended || !this.session) return;
    this.__scheduleReconnect(1, this.options.socket.reconnect.min);
  };

  HappnClient.prototype.__scheduleReconnect = function (attempt, delay) {
    var r = this.options.socket.reconnect;
    if (attempt > r.retries) {
      this.status = STATUS.DISCONNECTED;
      this.emit('reconnect-timeout', { err: new Error('Unable to recover'), opts: { attempt: attempt - 1 } });
      return;
    }
    delay = Math.min(delay, r.max);
    this.status = STATUS.RECONNECTING;
    var opts = {
      'reconnect timeout': this.options.socket.timeout,
      retries: r.retries === Infinity ? null : r.retries,
      factor: r.factor,
      max: r.max,
      min: r.min,
      start: Date.now(),
      duration: 0,
      attempt: attempt,
      backoff: true,
      scheduled: delay,
    };
    this.emit('reconnect-scheduled', opts);
    this.__reconnectTimer = setTimeout(() => {
      if (this.status !== STATUS.RECONNECTING) return;
      this.__openSocket((e, ws) => {
        if (this.status !== STATUS.RECONNECTING) {
          if (ws && !e) ws.close();
          return;
        }
        if (e) return this.__scheduleReconnect(attempt + 1, delay * r.factor);
        this.__attachSocket(ws);
        this.reconnect(opts);
      });
    }, delay);
  };

  // reconnect logs in again on a fresh socket and re-subscribes every listener.
  HappnClient.prototype.reconnect = function (options) {
    options = options || {};
    this.status = STATUS.RECONNECT_ACTIVE;
    this.emit('reconnect', options);
    this.login((e) => {
      if (e) return this.__retryReconnect(options, 'authentication-failed', e);
      clearTimeout(this.__retryReconnectTimeout);
      this.__retryReconnectInterval = null;
      this.status = STATUS.ACTIVE;
      this.__reattachListeners((e) => {
        if (e) return this.__retryReconnect(options, 'reattach-listeners-failed', e);
        this.emit('reconnect-successful', options);
      });
    });
  };

  HappnClient.prototype.__retryReconnect = function (options, reason, e) {
    if (this.__retryReconnectInterval == null) this.__retryReconnectInterval = 1e3;
    else this.__retryReconnectInterval = Math.min(this.__retryReconnectInterval * 2, this.options.retryOnSocketErrorMaxInterval);
    this.emit('reconnect-error', { reason: reason, error: e });
    if (this.status === STATUS.DISCONNECTED || this.__closing) return;
    this.__retryReconnectTimeout = setTimeout(() => {
      // a socket that closed meanwhile is being replaced by the reconnection schedule
      if (!this.socket || this.socket.readyState !== 1 || this.status !== STATUS.RECONNECT_ACTIVE) return;
      this.log.warn('retrying reconnection after ' + this.__retryReconnectInterval + 'ms');
      this.reconnect(options);
    }, this.__retryReconnectInterval);
  };

  // connect opens a socket and logs in (used once by initialize).
  HappnClient.prototype.connect = maybePromisify(function (callback) {
    this.status = STATUS.CONNECTING;
    this.__closing = false;
    this.__openSocket((e, ws) => {
      if (e) {
        this.status = STATUS.CONNECT_ERROR;
        return callback(e);
      }
      this.status = STATUS.ACTIVE;
      this.__attachSocket(ws);
      this.login(callback);
    });
  });

  // ------------------------------------------------------------ login

  HappnClient.prototype.__sessionConfigureAndDescribe = function (callback) {
    this.__performSystemRequest('configure-session', { protocol: PROTOCOL, version: HAPPN_VERSION, browser: browser }, null, (e) => {
      if (e) return callback(e);
      this.__performSystemRequest('describe', null, null, callback);
    });
  };

  HappnClient.prototype.login = maybePromisify(function (callback) {
    var o = this.options;
    var params = { username: o.username, info: Object.assign({}, o.info, { _local: false }), protocol: PROTOCOL };
    if (o.authType) params.authType = o.authType;
    if (o.password) params.password = o.password;
    if (o.token) params.token = o.token;
    if (o.publicKey) params.publicKey = o.publicKey;

    this.__sessionConfigureAndDescribe((e, serverInfo) => {
      if (e) {
        this.emit('connect-error', e);
        return callback(e);
      }
      this.serverInfo = serverInfo;
      if (!serverInfo.secure) return this.__doLogin(params, callback);
      if (o.useCookie) {
        if (!browser) return callback(new Error('Logging in with cookie only valid in browser'));
        params.token = readCookie(serverInfo.cookieName || o.cookieName || 'happn_token');
        params.useCookie = true;
      }
      if (!params.token && !params.username) {
        return callback(new Error('happn server is secure, please specify a username or token'));
      }
      if (!params.password && !params.token && params.username !== '_ANONYMOUS') {
        if (!params.publicKey) return callback(new Error('happn server is secure, please specify a password'));
        return callback(new Error('digest (key pair) login is not supported by the browser client'));
      }
      this.__doLogin(params, callback);
    });
  });

  HappnClient.prototype.__doLogin = function (params, callback) {
    var attempt = 0;
    var tryOnce = () => {
      attempt++;
      this.__performSystemRequest('login', params, { timeout: this.options.loginTimeout }, (e, result) => {
        if (e) {
          if (e.code === 401 || e.code === 403 || attempt >= this.options.loginRetry) return callback(e);
          return setTimeout(tryOnce, this.options.loginRetryInterval);
        }
        this.__attachSession(result, params.useCookie);
        callback(null, this.session);
      });
    };
    tryOnce();
  };

  HappnClient.prototype.__attachSession = function (result, useCookie) {
    delete result._meta;
    this.session = result;
    if (browser && !useCookie && result.token) document.cookie = cookieText(result, this.options.protocol === 'https');
  };

  // ------------------------------------------------------------ requests

  HappnClient.prototype.getEventId = function () {
    return (this.state.currentEventId += 1);
  };

  HappnClient.prototype.__requestCallback = function (message, callback, options, path, action) {
    var eventId = message.eventId;
    var handler = {
      eventId: eventId,
      handleResponse: (e, response) => {
        clearTimeout(handler.timedout);
        delete this.state.requestEvents[eventId];
        callback(e, response);
      },
    };
    handler.timedout = setTimeout(() => {
      delete this.state.requestEvents[eventId];
      var text = 'api request timed out';
      if (path) text += ' path: ' + path;
      if (action) text += ' action: ' + action;
      callback(new Error(text));
    }, options.timeout);
    this.state.requestEvents[eventId] = handler;
  };

  HappnClient.prototype.__checkRequestStatus = function (path, action, callback) {
    if (this.status === STATUS.ACTIVE) return true;
    var text = 'client not active';
    if (this.status === STATUS.CONNECT_ERROR || this.status === STATUS.ERROR) text = 'client in an error state';
    if (this.status === STATUS.UNINITIALIZED) text = 'client not initialized yet';
    if (this.status === STATUS.DISCONNECTED) text = 'client is disconnected';
    var e = new Error(text);
    e.detail = 'action: ' + action + ', path: ' + path;
    if (!callback) throw e;
    later(callback, e);
    return false;
  };

  HappnClient.prototype.__send = function (message, callback) {
    try {
      this.__write(message);
    } catch (e) {
      var handler = this.state.requestEvents[message.eventId];
      if (handler) handler.handleResponse(e);
      else if (callback) later(callback, e);
    }
  };

  HappnClient.prototype.__performDataRequest = function (path, action, data, options, callback) {
    if (!this.__checkRequestStatus(path, action, callback)) return;
    var message = { action: action, eventId: this.getEventId(), path: path, data: data, sessionId: this.session.id };
    if (!options || typeof options !== 'object') options = {};
    else message.options = options;
    if ((action === 'set' || action === 'remove') &&
        (options.consistency === CONSISTENCY.DEFERRED || options.consistency === CONSISTENCY.ACKNOWLEDGED)) {
      this.__attachPublishedAck(options, message);
    }
    if (!options.timeout) options.timeout = this.options.callTimeout;
    if (callback) this.__requestCallback(message, callback, options, path, action);
    this.__send(message, callback);
  };

  HappnClient.prototype.__performSystemRequest = function (action, data, options, callback) {
    var message = { action: action, eventId: this.getEventId() };
    if (data !== undefined) message.data = data;
    if (this.session) message.sessionId = this.session.id;
    if (!options) options = {};
    else message.options = options;
    if (!options.timeout) options.timeout = this.options.callTimeout;
    this.__requestCallback(message, callback, options);
    this.__send(message, callback);
  };

  HappnClient.prototype.__attachPublishedAck = function (options, message) {
    if (typeof options.onPublished !== 'function') throw new Error('onPublished handler in options is missing');
    var onPublished = options.onPublished;
    var id = message.sessionId + '-' + message.eventId;
    var handler = {
      handle: (e, results) => {
        clearTimeout(handler.timeout);
        delete this.state.ackHandlers[id];
        onPublished(e, results);
      },
    };
    handler.timeout = setTimeout(function () {
      handler.handle(new Error('publish timed out'));
    }, options.onPublishedTimeout || 60000);
    this.state.ackHandlers[id] = handler;
  };

  // ------------------------------------------------------------ incoming frames

  HappnClient.prototype.handle_publication = function (message) {
    if (Array.isArray(message)) {
      var meta = message.pop();
      return this.handle_response_array(meta && meta.status === 'error' ? errorFromWire(meta.error) : null, message, meta);
    }
    var m = message._meta;
    if (!m) return this.log.warn('frame without _meta', message);
    if (m.type === 'data') return this.handle_data(m.channel, message);
    if (m.type === 'system') return this.__handleSystemMessage(message);
    if (m.type === 'ack') return this.handle_ack(message);
    if (m.status === 'error') return this.handle_response(errorFromWire(m.error), message);

    var decoded;
    if (message.data) {
      if (Array.isArray(message.data)) decoded = message.data.slice();
      else if (typeof message.data === 'object') decoded = Object.assign({}, message.data);
      else decoded = { value: message.data };
      decoded._meta = m;
    } else decoded = message;
    if (message.data === null) m.nullData = true;
    this.handle_response(null, decoded);
  };

  HappnClient.prototype.handle_response_array = function (e, response, meta) {
    var handler = meta && this.state.requestEvents[meta.eventId];
    if (handler) handler.handleResponse(e, response);
  };

  HappnClient.prototype.handle_response = function (e, response) {
    var handler = this.state.requestEvents[response._meta.eventId];
    if (!handler) return;
    if (response._meta.nullData) return handler.handleResponse(e, null);
    handler.handleResponse(e, response);
  };

  HappnClient.prototype.handle_ack = function (message) {
    var handler = this.state.ackHandlers[message.id];
    if (!handler) return;
    if (message.status === 'error') return handler.handle(new Error(message.error), message.result);
    handler.handle(null, message.result);
  };

  HappnClient.prototype.__acknowledge = function (message, callback) {
    if (message._meta.consistency !== CONSISTENCY.ACKNOWLEDGED) return callback(message);
    this.__performDataRequest(undefined, 'ack', message._meta.publicationId, null, function (e) {
      if (e) {
        message._meta.acknowledged = false;
        message._meta.acknowledgedError = e;
      } else message._meta.acknowledged = true;
      callback(message);
    });
  };

  HappnClient.prototype.handle_data = function (channel, message) {
    this.__acknowledge(message, (acknowledged) => {
      var listeners = this.state.events[channel];
      if (!listeners) return;
      var text = JSON.stringify(acknowledged.data);
      listeners.slice().forEach((listener) => this.__handover(text, acknowledged._meta, listener));
    });
  };

  HappnClient.prototype.__handover = function (text, meta, listener) {
    if (listener.variableDepth && listener.depth < meta.depth) return;
    listener.runcount++;
    if (listener.count > 0 && listener.runcount > listener.count) return;
    var deliver = () => {
      try {
        listener.handler.call(this, text === undefined ? undefined : JSON.parse(text), meta);
      } catch (e) {
        this.log.error('event handler failed', e);
      }
    };
    if (listener.count === listener.runcount) {
      return this._offListener(listener.id, (e) => {
        if (e) this.log.warn('failed removing a used-up listener', e);
        deliver();
      });
    }
    deliver();
  };

  HappnClient.prototype.__handleSystemMessage = function (message) {
    if (message.eventKey === 'server-side-disconnect') {
      this.status = STATUS.DISCONNECTED;
      this.emit('session-ended', message.data);
    }
    this.state.systemMessageHandlers.every(function (handler) {
      return handler.apply(handler, [message.eventKey, message.data]);
    });
  };

  HappnClient.prototype.onSystemMessage = function (handler) {
    this.state.systemMessageHandlers.push(handler);
    return this.state.systemMessageHandlers.length - 1;
  };

  HappnClient.prototype.offSystemMessage = function (index) {
    this.state.systemMessageHandlers.splice(index, 1);
  };

  // ------------------------------------------------------------ data API

  HappnClient.prototype.getChannel = function (path, action) {
    checkPath(path);
    return '/' + action.toUpperCase() + '@' + path;
  };

  function optionsAndHandler(options, handler) {
    if (typeof options === 'function') return [{}, options];
    return [options || {}, handler];
  }

  HappnClient.prototype.get = maybePromisify(function (path, options, handler) {
    var a = optionsAndHandler(options, handler);
    this.__performDataRequest(path, 'get', null, a[0], a[1]);
  });

  HappnClient.prototype.getPaths = maybePromisify(function (path, options, handler) {
    var a = optionsAndHandler(options, handler);
    a[0].options = { path_only: true };
    this.get(path, a[0], a[1]);
  });

  HappnClient.prototype.getCreatedBetween = maybePromisify(function (path, from, to, handler) {
    if (isNaN(from)) throw new Error('from is null or not a timestamp');
    if (isNaN(to)) throw new Error('to is null or not a timestamp');
    var criteria = { $and: [{ '_meta.created': { $gte: from } }, { '_meta.created': { $lte: to } }] };
    this.__performDataRequest(path, 'get', null, { criteria: criteria }, handler);
  });

  HappnClient.prototype.count = maybePromisify(function (path, options, handler) {
    var a = optionsAndHandler(options, handler);
    this.__performDataRequest(path, 'count', null, a[0], a[1]);
  });

  HappnClient.prototype.set = maybePromisify(function (path, data, options, handler) {
    var a = optionsAndHandler(options, handler);
    if (data === null) a[0].nullValue = true;
    try {
      checkPath(path, 'set');
    } catch (e) {
      return a[1](e);
    }
    this.__performDataRequest(path, 'set', data, a[0], a[1]);
  });

  HappnClient.prototype.publish = maybePromisify(function (path, data, options, handler) {
    var a = optionsAndHandler(options, handler);
    if (data === null) a[0].nullValue = true;
    a[0].noStore = true;
    a[0].noDataResponse = true;
    try {
      checkPath(path, 'set');
    } catch (e) {
      return a[1](e);
    }
    this.__performDataRequest(path, 'set', data, a[0], a[1]);
  });

  HappnClient.prototype.increment = maybePromisify(function (path, gauge, increment, options, handler) {
    if (typeof gauge === 'function') {
      handler = gauge;
      gauge = 'counter';
      increment = 1;
      options = {};
    } else if (typeof increment === 'function') {
      handler = increment;
      increment = gauge;
      gauge = 'counter';
      options = {};
    } else if (typeof options === 'function') {
      handler = options;
      options = {};
    }
    if (isNaN(increment)) return handler(new Error('increment must be a number'));
    options = options || {};
    options.increment = increment;
    this.set(path, gauge, options, handler);
  });

  HappnClient.prototype.remove = maybePromisify(function (path, options, handler) {
    var a = optionsAndHandler(options, handler);
    this.__performDataRequest(path, 'remove', null, a[0], a[1]);
  });

  // ------------------------------------------------------------ subscriptions

  HappnClient.prototype.__listenerRefKey = function (listener) {
    return listener.initialEmit || listener.initialCallback ? listener.id : listener.eventKey;
  };

  HappnClient.prototype._remoteOn = function (channel, parameters, callback) {
    this.__performDataRequest(channel, 'on', null, parameters, callback);
  };

  HappnClient.prototype._remoteOff = function (channel, ref, callback) {
    if (typeof ref === 'function') {
      callback = ref;
      ref = 0;
    }
    this.__performDataRequest(channel, 'off', null, { referenceId: ref }, function (e) {
      callback(e || undefined);
    });
  };

  HappnClient.prototype.__clearListenerState = function (channel, listener) {
    var list = this.state.events[channel];
    if (list) {
      var i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) delete this.state.events[channel];
    }
    this.state.refCount[listener.eventKey]--;
    if (!(this.state.refCount[listener.eventKey] > 0)) delete this.state.refCount[listener.eventKey];
    delete this.state.listenerRefs[this.__listenerRefKey(listener)];
  };

  /**
   * on(path, [options], handler, [callback]) subscribes handler(data, meta) to the path's
   * events; options: event_type ('set' | 'remove' | 'all'), count, depth, meta, merge,
   * initialCallback, initialEmit, onPublished. Calls back (or resolves) with the listener id.
   */
  HappnClient.prototype.on = function (path, parameters, handler, callback) {
    if (typeof parameters === 'function') {
      callback = handler;
      handler = parameters;
      parameters = {};
    }
    if (typeof callback !== 'function') {
      return new Promise((resolve, reject) => {
        this.on(path, parameters, handler, function (e, id) {
          if (e) return reject(e);
          resolve(id);
        });
      });
    }
    parameters = Object.assign({}, parameters || {});
    if (!parameters.event_type || parameters.event_type === '*') parameters.event_type = 'all';
    if (!parameters.count) parameters.count = 0;
    if (typeof handler !== 'function') {
      if (typeof parameters.onPublished !== 'function') return later(callback, new Error('handler must be a function'));
      handler = parameters.onPublished;
    }
    if (typeof path !== 'string') return later(callback, new Error('Bad path [' + path + '], must be a string'));
    var variableDepth = path === '**' || path.substring(path.length - 3) === '/**';
    if (variableDepth && !parameters.depth) parameters.depth = this.options.defaultVariableDepth;
    var channel;
    try {
      channel = this.getChannel(path, parameters.event_type);
    } catch (e) {
      return later(callback, e);
    }
    var wireOptions = Object.assign({}, parameters);
    delete wireOptions.onPublished;
    var listener = {
      handler: handler,
      count: parameters.count,
      eventKey: JSON.stringify({
        path: channel,
        event_type: parameters.event_type,
        count: parameters.count,
        initialEmit: parameters.initialEmit,
        initialCallback: parameters.initialCallback,
        meta: parameters.meta,
        depth: parameters.depth,
      }),
      runcount: 0,
      meta: parameters.meta,
      id: this.state.currentListenerId++,
      initialEmit: parameters.initialEmit,
      initialCallback: parameters.initialCallback,
      depth: parameters.depth,
      variableDepth: variableDepth,
      merge: parameters.merge === true,
    };
    if (!this.state.events[channel]) this.state.events[channel] = [];
    this.state.events[channel].push(listener);
    this.state.refCount[listener.eventKey] = (this.state.refCount[listener.eventKey] || 0) + 1;
    if (this.state.refCount[listener.eventKey] !== 1 && !listener.initialEmit && !listener.initialCallback) {
      return later(callback, null, listener.id);
    }
    this._remoteOn(channel, wireOptions, (e, response) => {
      if (e) {
        this.__clearListenerState(channel, listener);
        return callback(e);
      }
      if (listener.initialEmit || listener.initialCallback) {
        this.state.listenerRefs[listener.id] = response._meta.referenceId;
        if (listener.initialEmit) {
          response.forEach((item) => {
            try {
              listener.handler.call(this, item);
            } catch (err) {
              this.log.error('initialEmit handler failed', err);
            }
          });
          return callback(null, listener.id);
        }
        return callback(null, listener.id, response);
      }
      this.state.listenerRefs[listener.eventKey] = response.id;
      callback(null, listener.id);
    });
  };

  /** once(path, [options], handler, [callback]) is on with count 1. */
  HappnClient.prototype.once = function (path, parameters, handler, callback) {
    if (typeof parameters === 'function') {
      callback = handler;
      handler = parameters;
      parameters = {};
    }
    parameters = Object.assign({}, parameters || {}, { count: 1 });
    return this.on(path, parameters, handler, callback);
  };

  HappnClient.prototype.onAll = function (handler, callback) {
    return this.on('*', {}, handler, callback);
  };

  HappnClient.prototype._offListener = function (handle, callback) {
    var channels = Object.keys(this.state.events);
    for (var c = 0; c < channels.length; c++) {
      var channel = channels[c];
      var list = this.state.events[channel];
      for (var i = 0; i < list.length; i++) {
        var listener = list[i];
        if (listener.id !== handle) continue;
        var ref = this.state.listenerRefs[this.__listenerRefKey(listener)];
        this.__clearListenerState(channel, listener);
        if (!this.state.refCount[listener.eventKey] || listener.initialEmit || listener.initialCallback) {
          if (this.status !== STATUS.ACTIVE) return later(callback);
          return this._remoteOff(channel, ref, callback);
        }
        return later(callback);
      }
    }
    later(callback);
  };

  HappnClient.prototype._offPath = function (path, callback) {
    var listeners = [];
    Object.keys(this.state.events).forEach((channel) => {
      var channelPath = channel.split('@').slice(1).join('@');
      if (wildcardMatch(path, channelPath)) listeners = listeners.concat(this.state.events[channel]);
    });
    var next = (i) => {
      if (i >= listeners.length) return callback();
      this._offListener(listeners[i].id, (e) => {
        if (e) return callback(e);
        next(i + 1);
      });
    };
    next(0);
  };

  /** off(listenerId, [callback]) removes one listener. */
  HappnClient.prototype.off = maybePromisify(function (handle, callback) {
    if (handle == null) return callback(new Error('handle cannot be null'));
    if (typeof handle !== 'number') return callback(new Error('handle must be a number'));
    this._offListener(handle, callback);
  });

  /** offPath(path, [callback]) removes every listener on channels whose path matches. */
  HappnClient.prototype.offPath = maybePromisify(function (path, callback) {
    if (typeof path === 'function') {
      callback = path;
      path = '*';
    }
    this._offPath(path, callback);
  });

  /** offAll([callback]) removes every subscription of the session. */
  HappnClient.prototype.offAll = maybePromisify(function (callback) {
    this._remoteOff('*', (e) => {
      if (e) return callback(e);
      this.__initializeEventState();
      callback();
    });
  });

  // __reattachListeners subscribes again, after a reconnect, once per distinct event key.
  HappnClient.prototype.__reattachListeners = function (callback) {
    var work = [];
    this.state.refCount = {};
    this.state.listenerRefs = {};
    Object.keys(this.state.events).forEach((channel) => {
      this.state.events[channel].forEach((listener) => work.push([channel, listener]));
    });
    var next = (i) => {
      if (i >= work.length) return callback();
      var channel = work[i][0];
      var listener = work[i][1];
      if (this.state.refCount[listener.eventKey]) {
        this.state.refCount[listener.eventKey]++;
        return next(i + 1);
      }
      // only meta, as the npm client does, plus depth and merge so that a "/**"
      // or merge subscription keeps its meaning after the reconnect
      var parameters = {};
      if (listener.meta) parameters.meta = listener.meta;
      if (listener.variableDepth) parameters.depth = listener.depth;
      if (listener.merge) parameters.merge = true;
      this._remoteOn(channel, parameters, (e, response) => {
        if (e) {
          if (e.code === 401 || e.code === 403) {
            delete this.state.events[channel];
            return next(i + 1);
          }
          return callback(new Error('failed re-establishing listener to path: ' + channel));
        }
        this.state.refCount[listener.eventKey] = 1;
        this.state.listenerRefs[this.__listenerRefKey(listener)] = response.id;
        next(i + 1);
      });
    };
    next(0);
  };

  // ------------------------------------------------------------ session end

  HappnClient.prototype.revokeToken = maybePromisify(function (callback) {
    this.__performSystemRequest('revoke-token', null, null, callback);
  });

  HappnClient.prototype.changePassword = maybePromisify(function (details, callback) {
    this.__performSystemRequest('change-password', details, null, callback);
  });

  HappnClient.prototype.clearTimeouts = function () {
    clearTimeout(this.__reconnectTimer);
    clearTimeout(this.__retryReconnectTimeout);
    clearTimeout(this.__pingTimer);
    var s = this.state;
    Object.keys(s.ackHandlers).forEach((k) => clearTimeout(s.ackHandlers[k].timeout));
    Object.keys(s.requestEvents).forEach((k) => clearTimeout(s.requestEvents[k].timedout));
  };

  HappnClient.prototype.__closeSocket = function (callback) {
    var ws = this.socket;
    if (!ws) return later(callback);
    if (ws.readyState !== 1) {
      this.__onSocketClosed();
      return later(callback);
    }
    ws.onclose = () => {
      this.__onSocketClosed();
      callback();
    };
    ws.close();
  };

  /**
   * disconnect([options], [callback]) closes the connection for good; options: revokeToken
   * (revoke the session token first), disconnectChildSessions, deleteCookie.
   */
  HappnClient.prototype.disconnect = maybePromisify(function (options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = null;
    }
    options = options || {};
    this.__closing = true;
    var finish = (e) => {
      this.clearTimeouts();
      this.state.systemMessageHandlers = [];
      this.__initializeEventState();
      this.status = STATUS.DISCONNECTED;
      callback(e);
    };
    if (browser && options.deleteCookie && this.session) {
      var expired = Object.assign({}, this.session, { token: '' });
      document.cookie = cookieText(expired, this.options.protocol === 'https') + ' expires=Thu, 01 Jan 1970 00:00:00 UTC;';
    }
    clearTimeout(this.__reconnectTimer);
    clearTimeout(this.__retryReconnectTimeout);
    var open = this.socket && this.socket.readyState === 1 && this.session;
    if (open && (options.revokeToken || options.revokeSession)) {
      return this.revokeToken((revokeError) => {
        this.__closeSocket(() => finish(revokeError));
      });
    }
    if (open && options.disconnectChildSessions) {
      return this.__performSystemRequest('disconnect-child-sessions', null, null, (e) => {
        if (e) this.log.warn('disconnect-child-sessions failed: ' + e.toString());
        this.__closeSocket(() => finish());
      });
    }
    this.__closeSocket(() => finish());
  });

  HappnClient.prototype.logout = function () {
    return this.disconnect({ revokeToken: true });
  };

  HappnClient.prototype.stop = maybePromisify(function (callback) {
    this.disconnect(callback);
  });

  root.HappnClient = HappnClient;
})(typeof window !== 'undefined' ? window : this);
