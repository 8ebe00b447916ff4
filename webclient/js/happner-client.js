/*
 * happner-go browser mesh clients (served at /api/client after the happn client).
 *
 * Defines window.MeshClient and window.Happner.{MeshClient, HappnerClient, LightHappnerClient}
 * with the behaviour of the npm happner-2 MeshClient and happner-client: login, the exchange
 * (component methods called over /_exchange/requests), component events (/_events), the raw
 * happn client as client.data, and the connection and component events.
 */
(function (root) {
  'use strict';

  var HappnClient = root.HappnClient;
  if (!HappnClient) throw new Error('the happn client must be loaded before the happner clients');

  var Happner = (root.Happner = root.Happner || {});

  // ---------------------------------------------------------------- EventEmitter

  function EventEmitter() {
    this._events = {};
  }

  EventEmitter.prototype.on = function (name, fn) {
    if (!this._events) this._events = {};
    (this._events[name] = this._events[name] || []).push(fn);
    return this;
  };
  EventEmitter.prototype.addListener = EventEmitter.prototype.on;

  EventEmitter.prototype.once = function (name, fn) {
    var self = this;
    function wrapper() {
      self.removeListener(name, wrapper);
      fn.apply(self, arguments);
    }
    wrapper.listener = fn;
    return this.on(name, wrapper);
  };

  EventEmitter.prototype.removeListener = function (name, fn) {
    var list = this._events && this._events[name];
    if (!list) return this;
    for (var i = list.length - 1; i >= 0; i--) {
      if (list[i] === fn || list[i].listener === fn) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) delete this._events[name];
    return this;
  };
  EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

  EventEmitter.prototype.removeAllListeners = function (name) {
    if (!this._events) return this;
    if (name === undefined) this._events = {};
    else delete this._events[name];
    return this;
  };

  EventEmitter.prototype.listeners = function (name) {
    return ((this._events && this._events[name]) || []).slice();
  };

  EventEmitter.prototype.listenerCount = function (name) {
    return this.listeners(name).length;
  };

  EventEmitter.prototype.emit = function (name) {
    var list = this.listeners(name);
    var args = Array.prototype.slice.call(arguments, 1);
    for (var i = 0; i < list.length; i++) {
      try {
        list[i].apply(this, args);
      } catch (e) {
        if (typeof console !== 'undefined') console.error('listener for ' + name + ' failed', e);
      }
    }
    return list.length > 0;
  };

  function inherit(Sub) {
    Object.keys(EventEmitter.prototype).forEach(function (k) {
      Sub.prototype[k] = EventEmitter.prototype[k];
    });
  }

  // ---------------------------------------------------------------- helpers

  // promisify: a last function argument is the callback; otherwise the call returns a Promise
  // of the single result, or of an array when the method gave several.
  function promisify(fn, opts) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      var self = this;
      if (opts && opts.unshift) args.unshift(opts.unshift);
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

  function createLogger(name) {
    var levels = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, off: 6 };
    function at(level, sink) {
      return function () {
        var wanted = levels[root.LOG_LEVEL] != null ? levels[root.LOG_LEVEL] : levels.info;
        if (levels[level] < wanted || typeof console === 'undefined') return;
        var args = Array.prototype.slice.call(arguments);
        args.unshift('(' + name + ')');
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

  function MeshError(message, data) {
    var e = new Error(message);
    e.name = 'MeshError';
    if (data !== undefined) e.data = data;
    return e;
  }

  // remoteError rebuilds the error a method called back with: an Error with the sent name,
  // message and every other field.
  function remoteError(wire) {
    if (wire instanceof Error) return wire;
    if (wire == null || typeof wire !== 'object') return new Error(String(wire));
    var e = new Error(wire.message);
    e.name = wire.name || 'Error';
    Object.keys(wire).forEach(function (k) {
      if (k !== 'message' && k !== 'name') e[k] = wire[k];
    });
    return e;
  }

  function clone(v) {
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  }

  function fail(callback, e) {
    if (typeof callback === 'function') {
      setTimeout(function () {
        callback(e);
      }, 0);
      return false;
    }
    throw e;
  }

  // ---------------------------------------------------------------- semver

  // A small semver: versions x.y.z[-pre], ranges with *, x, ^, ~, comparators, hyphen ranges
  // and ||, as npm's semver reads them.
  var semver = (function () {
    var NUM = /^(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

    function parse(text) {
      var m = NUM.exec(String(text).trim().replace(/^[=v]+/, ''));
      if (!m) return null;
      var part = function (s) {
        return s === undefined || /[xX*]/.test(s) ? null : parseInt(s, 10);
      };
      return { major: part(m[1]), minor: part(m[2]), patch: part(m[3]), pre: m[4] ? m[4].split('.') : [] };
    }

    function comparePre(a, b) {
      if (!a.length && !b.length) return 0;
      if (!a.length) return 1;
      if (!b.length) return -1;
      for (var i = 0; i < Math.max(a.length, b.length); i++) {
        if (a[i] === undefined) return -1;
        if (b[i] === undefined) return 1;
        var an = /^\d+$/.test(a[i]);
        var bn = /^\d+$/.test(b[i]);
        if (an && bn) {
          var d = parseInt(a[i], 10) - parseInt(b[i], 10);
          if (d) return d < 0 ? -1 : 1;
        } else if (an !== bn) return an ? -1 : 1;
        else if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      }
      return 0;
    }

    function compare(a, b) {
      var keys = ['major', 'minor', 'patch'];
      for (var i = 0; i < 3; i++) {
        var x = a[keys[i]] || 0;
        var y = b[keys[i]] || 0;
        if (x !== y) return x < y ? -1 : 1;
      }
      return comparePre(a.pre, b.pre);
    }

    function v(major, minor, patch, pre) {
      return { major: major, minor: minor, patch: patch, pre: pre || [] };
    }

    // comparators turns one range term into [op, version] pairs that must all hold.
    function comparators(term) {
      term = term.trim();
      if (term === '' || term === '*' || /^[xX]$/.test(term)) return [];
      var hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(term);
      if (hyphen) return comparators('>=' + hyphen[1]).concat(upper(parse(hyphen[2]), '<='));
      var out = [];
      var tokens = term.replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/);
      tokens.forEach(function (tok) {
        var m = /^(>=|<=|>|<|=|\^|~>?)?(.*)$/.exec(tok);
        var op = m[1] || '';
        var ver = parse(m[2]);
        if (!ver) throw new Error('Invalid comparator: ' + tok);
        var M = ver.major;
        var mi = ver.minor;
        var p = ver.patch;
        if (op === '^') {
          out.push(['>=', v(M, mi || 0, p || 0, ver.pre)]);
          if (M > 0 || mi === null) out.push(['<', v(M + 1, 0, 0, ['0'])]);
          else if (mi > 0 || p === null) out.push(['<', v(0, mi + 1, 0, ['0'])]);
          else out.push(['<', v(0, 0, p + 1, ['0'])]);
        } else if (op === '~' || op === '~>') {
          out.push(['>=', v(M, mi || 0, p || 0, ver.pre)]);
          if (mi === null) out.push(['<', v(M + 1, 0, 0, ['0'])]);
          else out.push(['<', v(M, mi + 1, 0, ['0'])]);
        } else if (op === '' || op === '=') {
          if (mi === null || p === null) {
            out.push(['>=', v(M, mi || 0, 0)]);
            out.push(['<', mi === null ? v(M + 1, 0, 0, ['0']) : v(M, mi + 1, 0, ['0'])]);
          } else out.push(['=', ver]);
        } else if (op === '>' && (mi === null || p === null)) {
          out.push(['>=', mi === null ? v(M + 1, 0, 0) : v(M, mi + 1, 0)]);
        } else if (op === '<=' && (mi === null || p === null)) {
          out = out.concat(upper(ver, '<='));
        } else out.push([op, v(M, mi || 0, p || 0, ver.pre)]);
      });
      return out;
    }

    function upper(ver, op) {
      if (ver.minor === null) return [['<', v(ver.major + 1, 0, 0, ['0'])]];
      if (ver.patch === null) return [['<', v(ver.major, ver.minor + 1, 0, ['0'])]];
      return [[op, ver]];
    }

    function test(op, ver, bound) {
      var c = compare(ver, bound);
      switch (op) {
        case '>=': return c >= 0;
        case '>': return c > 0;
        case '<=': return c <= 0;
        case '<': return c < 0;
        default: return c === 0;
      }
    }

    function satisfies(version, range) {
      var ver = typeof version === 'string' ? parse(version) : version;
      if (!ver || ver.major === null || ver.minor === null || ver.patch === null) return false;
      return String(range).split('||').some(function (term) {
        var list;
        try {
          list = comparators(term);
        } catch (e) {
          return false;
        }
        return list.every(function (c) {
          return test(c[0], ver, c[1]);
        });
      });
    }

    function coerce(version) {
      var m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(String(version));
      if (!m) return null;
      return m[1] + '.' + (m[2] || 0) + '.' + (m[3] || 0);
    }

    function coercedSatisfies(version, range) {
      var c = coerce(version);
      return c !== null && satisfies(c, range);
    }

    return { parse: parse, compare: compare, satisfies: satisfies, coerce: coerce, coercedSatisfies: coercedSatisfies };
  })();

  // ---------------------------------------------------------------- exchange and events of one mesh

  // getEndpoint finds api[mesh][component] or api[component] for $call and $on.
  function getEndpoint(parameters, api, callback) {
    var e;
    if (parameters.mesh) {
      if (typeof api[parameters.mesh] !== 'object') {
        e = new Error('invalid endpoint options: [' + parameters.mesh + '] mesh does not exist on the api');
      } else if (typeof api[parameters.mesh][parameters.component] !== 'object') {
        e = new Error('invalid endpoint options: [' + parameters.mesh + '.' + parameters.component + '] component does not exist on the api');
      }
    } else if (typeof api[parameters.component] !== 'object') {
      e = new Error('invalid endpoint options: [' + parameters.component + '] component does not exist on the api');
    }
    if (e) return fail(callback, e);
    return parameters.mesh ? api[parameters.mesh][parameters.component] : api[parameters.component];
  }

  function decoupledCall(exchange) {
    return function (parameters, callback) {
      parameters = parameters || {};
      var endpoint = getEndpoint(parameters, exchange, callback);
      if (endpoint === false) return;
      if (typeof endpoint[parameters.method] !== 'function') {
        return fail(callback, new Error('invalid endpoint options: [' + parameters.component + '.' + parameters.method + '] method does not exist on the api'));
      }
      var args = Array.isArray(parameters.arguments) ? parameters.arguments.slice() : [];
      if (typeof callback === 'function') args.push(callback);
      var bound = endpoint;
      if (parameters.as) bound = Object.assign({ $origin: { username: parameters.as, override: true } }, endpoint);
      return endpoint[parameters.method].apply(bound, args);
    };
  }

  function decoupleEvents(event) {
    event.$on = function (parameters, handler, callback) {
      var endpoint = getEndpoint(parameters, event, callback);
      if (endpoint === false) return;
      return endpoint.on(parameters.path, parameters.options, handler, callback);
    };
    event.$once = function (parameters, handler, callback) {
      var endpoint = getEndpoint(parameters, event, callback);
      if (endpoint === false) return;
      return endpoint.once(parameters.path, handler, callback);
    };
    event.$off = function (parameters, callback) {
      var endpoint = getEndpoint(parameters, event, callback);
      if (endpoint === false) return;
      return endpoint.off(parameters.id, callback);
    };
    event.$offPath = function (parameters, callback) {
      var endpoint = getEndpoint(parameters, event, callback);
      if (endpoint === false) return;
      return endpoint.offPath(parameters.path, callback);
    };
  }

  // withPromise runs fn(callback) with the caller's callback, or returns a Promise of its result.
  function withPromise(callback, fn) {
    if (typeof callback === 'function') return fn(callback);
    return new Promise(function (resolve, reject) {
      fn(function (e, result) {
        if (e) return reject(e);
        resolve(result);
      });
    });
  }

  // componentEvents is event.<component> of a MeshClient: on/once/off/offPath on
  // /_events/<domain>/<component>/<key>.
  function componentEvents(data, domain, component, log) {
    var prefix = '/_events/' + domain + '/' + component + '/';
    return {
      on: function (key, parameters, handler, callback) {
        if (typeof parameters === 'function') {
          callback = handler;
          handler = parameters;
          parameters = null;
        }
        parameters = Object.assign({}, parameters || {}, { event_type: 'set' });
        if (key === '*') key = '**';
        return withPromise(callback, function (cb) {
          data.on(prefix + key, parameters, handler, cb);
        });
      },
      once: function (key, handler, callback) {
        return this.on(key, { event_type: 'set', count: 1 }, handler, callback);
      },
      off: function (id, callback) {
        if (typeof id !== 'number') {
          var e = new Error('off using a path or string is not possible, use offPath, path:' + id);
          log.warn(e.message);
          return withPromise(callback, function (cb) {
            setTimeout(function () {
              cb(e);
            }, 0);
          });
        }
        return withPromise(callback, function (cb) {
          data.off(id, cb);
        });
      },
      offPath: function (key, callback) {
        return withPromise(callback, function (cb) {
          data.offPath(prefix + key, cb);
        });
      },
    };
  }

  // Messenger sends a MeshClient's requests and matches the published replies to them.
  function Messenger(data, domain, description, secure, log) {
    this.data = data;
    this.domain = domain;
    this.description = description;
    this.secure = secure;
    this.log = log;
    this.seq = 0;
    this.handlers = {};
    this.masks = {};
    this.updateSession(data.session);
    data.onEvent('connection-ended', () => {
      Object.keys(this.handlers).forEach((address) => this.fail(address, new Error('connection-ended')));
    });
    data.onEvent('reconnect-successful', () => {
      this.updateSession(data.session);
      var sid = this.session.id;
      Object.keys(this.masks).forEach((mask) => {
        if (mask.indexOf(sid) >= 0) return;
        var id = this.masks[mask];
        delete this.masks[mask];
        if (typeof id === 'number') data.off(id, function () {});
      });
    });
  }

  Messenger.prototype.updateSession = function (session) {
    this.session = { id: session.id };
    if (session.user) this.session.username = session.user.username;
  };

  Messenger.prototype.fail = function (address, e) {
    var h = this.handlers[address];
    if (!h) return;
    clearTimeout(h.timer);
    delete this.handlers[address];
    h.callback(e);
  };

  Messenger.prototype.ensureMask = function (mask, callback) {
    var known = this.masks[mask];
    if (typeof known === 'number') return callback();
    if (Array.isArray(known)) return known.push(callback);
    var waiting = (this.masks[mask] = [callback]);
    this.data.on(mask, { event_type: 'set', count: 0 }, this.onResponse.bind(this), (e, id) => {
      if (e) delete this.masks[mask];
      else this.masks[mask] = id;
      waiting.forEach(function (cb) {
        cb(e);
      });
    });
  };

  Messenger.prototype.onResponse = function (response, meta) {
    var h = this.handlers[meta.path];
    if (!h) return;
    clearTimeout(h.timer);
    delete this.handlers[meta.path];
    var args = Array.isArray(response.args) ? response.args.slice() : [];
    if (response.status !== 'ok') args[0] = remoteError(args[0]);
    try {
      h.callback.apply(null, args);
    } catch (e) {
      this.log.error('error in response handler', e);
    }
  };

  // request calls component.method with args; callback gets the method's callback arguments.
  Messenger.prototype.request = function (component, method, methodDescription, args, callback, origin) {
    var failures = [];
    ((methodDescription && methodDescription.parameters) || []).forEach(function (p, i) {
      if (p && p.required && !args[i]) failures.push({ parameterDefinition: p, message: 'Required parameter not found' });
    });
    if (failures.length) return callback(MeshError('schema validation failed', failures));
    var sid = this.session.id;
    var mask;
    var address;
    var n = this.seq++;
    if (this.secure) {
      var prefix = '/_exchange/responses/' + [this.domain, component, method, sid].join('/');
      mask = prefix + '/*';
      address = prefix + '/' + n;
    } else {
      mask = '/_exchange/responses/' + sid + '/*/*/*/*';
      address = '/_exchange/responses/' + [sid, this.domain, component, method, n].join('/');
    }
    this.ensureMask(mask, (e) => {
      if (e) return callback(e);
      var setOptions = Object.assign({}, this.description.setOptions || { noStore: true });
      if (origin && origin.username) setOptions.onBehalfOf = origin.username;
      var message = { callbackAddress: address, args: args, origin: Object.assign({}, this.session) };
      this.handlers[address] = {
        callback: callback,
        timer: setTimeout(() => this.fail(address, new Error('Request timed out')), setOptions.timeout || 10000),
      };
      this.data.publish('/_exchange/requests/' + [this.domain, component, method].join('/'), message, setOptions, (e) => {
        if (e) this.fail(address, e);
      });
    });
  };

  // MeshApi builds and updates client.exchange and client.event from the mesh description.
  function MeshApi(data, config, description, log) {
    this.data = data;
    this.log = log;
    this.domain = config.name;
    this.description = description;
    var secure = !!((config.happn && config.happn.secure) || (data.session && data.session.happn && data.session.happn.secure));
    this.messenger = new Messenger(data, this.domain, description, secure, log);
    this.exchange = {};
    this.event = {};
    this.exchange[this.domain] = {};
    this.event[this.domain] = {};
    this.components = {};
    this.exchange.$call = decoupledCall(this.exchange);
    decoupleEvents(this.event);
    this.update(description);
  }

  MeshApi.prototype.update = function (description) {
    var previous = this.components;
    var next = description.components || {};
    var created = [];
    var destroyed = [];
    this.messenger.description = description;
    this.description = description;
    Object.keys(previous).forEach((name) => {
      if (next[name]) return;
      destroyed.push(previous[name]);
      delete this.exchange[this.domain][name];
      delete this.event[this.domain][name];
      delete this.exchange[name];
      delete this.event[name];
    });
    var kept = {};
    Object.keys(next).forEach((name) => {
      kept[name] = next[name];
      if (previous[name]) return;
      created.push(next[name]);
      this.mount(name, next[name]);
    });
    this.components = kept;
    return { created: created, destroyed: destroyed };
  };

  MeshApi.prototype.mount = function (name, component) {
    var messenger = this.messenger;
    var exchange = {};
    Object.keys(component.methods || {}).forEach(function (method) {
      var methodDescription = component.methods[method];
      var requestor = promisify(function () {
        var args = Array.prototype.slice.call(arguments);
        var callback = args.pop();
        var origin = this && this.$origin;
        messenger.request(name, method, messenger.description.components[name] ? messenger.description.components[name].methods[method] : methodDescription, args, callback, origin);
      });
      exchange[method] = requestor;
      if (methodDescription && methodDescription.alias) exchange[methodDescription.alias] = requestor;
    });
    this.exchange[this.domain][name] = exchange;
    this.exchange[name] = Object.assign({ __version: component.version }, exchange);
    var events = componentEvents(this.data, this.domain, name, this.log);
    this.event[this.domain][name] = events;
    this.event[name] = events;
  };

  // ---------------------------------------------------------------- MeshClient

  var CREDENTIAL_KEYS = ['username', 'password', 'secret', 'token', 'useCookie', 'cookieEventHandler', 'authType', 'loginRetry'];

  /**
   * new MeshClient([opts], [port], [hostname], [callback]): opts {host|hostname|address, port,
   * protocol, reconnect: {min, max, retries}, info, loginRetry, schemaRetryInterval}; the page's
   * host, port and protocol by default.
   */
  function MeshClient() {
    EventEmitter.call(this);
    var opts = {};
    var hostname;
    var port;
    var callback;
    Array.prototype.slice.call(arguments).forEach(function (arg) {
      if (arg && typeof arg === 'object') opts = Object.assign({}, arg);
      else if (typeof arg === 'number') port = arg;
      else if (typeof arg === 'string' && !hostname) hostname = arg;
      else if (typeof arg === 'function') callback = arg;
    });
    var page = typeof window !== 'undefined' && window.location ? window.location : null;
    hostname = hostname || opts.host || opts.hostname || opts.address || (page && page.hostname) || 'localhost';
    port = port || opts.port;
    if (!port && page) {
      opts.protocol = opts.protocol || page.protocol.replace(':', '');
      port = page.port ? parseInt(page.port, 10) : opts.protocol === 'https' ? 443 : 80;
    }
    opts.hostname = hostname;
    opts.port = port || 55000;
    opts.reconnect = opts.reconnect || {};
    this.opts = opts;
    this.log = opts.log = createLogger('MeshClient');
    if (typeof callback === 'function') {
      this.log.warn('MeshClient() with login callback is deprecated, call login()');
      this.login(callback);
    }
  }

  inherit(MeshClient);

  /** MeshClient.create({host, port, protocol, username, password, token}) resolves to a logged-in client. */
  MeshClient.create = function (opts) {
    opts = opts || {};
    var client = new MeshClient({ host: opts.host, port: opts.port, protocol: opts.protocol, loginRetry: opts.loginRetry });
    var credentials = { username: opts.username, password: opts.password };
    if (opts.token) credentials.token = opts.token;
    return client.login(credentials).then(function () {
      return client;
    });
  };

  MeshClient.clearCookieEventObjects = function () {
    HappnClient.clearCookieEventObjects();
  };

  MeshClient.prototype.isConnected = function () {
    return this.data != null && [1, 4, 5, 6, 7].indexOf(this.data.status) >= 0;
  };

  /** login([credentials], [callback]): {username, password} | {token} | {useCookie: true}. */
  MeshClient.prototype.login = promisify(function (credentials, callback) {
    if (typeof credentials === 'function') {
      callback = credentials;
      credentials = {};
    }
    credentials = credentials || {};
    var opts = Object.assign({}, this.opts);
    CREDENTIAL_KEYS.forEach(function (k) {
      if (credentials[k]) opts[k] = credentials[k];
    });
    setTimeout(() => {
      this.__initialize(opts, (e) => callback(e || null));
    }, 0);
  });

  MeshClient.prototype.logout = promisify(function (callback) {
    this.disconnect({ revokeToken: true }, callback);
  });

  /** disconnect([options], [callback]): options revokeToken, deleteCookie, disconnectChildSessions. */
  MeshClient.prototype.disconnect = promisify(function (opts, callback) {
    if (typeof opts === 'function') {
      callback = opts;
      opts = null;
    }
    clearInterval(this.__schemaTimer);
    if (this.data) return this.data.disconnect(opts || {}, callback);
    setTimeout(callback, 0);
  });

  MeshClient.prototype.__deprecatedEmit = function (name, data) {
    if (this.listenerCount(name) > 0) {
      this.__warned = this.__warned || {};
      if (!this.__warned[name]) {
        this.__warned[name] = true;
        this.log.warn("DEPRECATION WARNING: please use event:'" + name.replace('-', '/') + "' and not event:'" + name + "'");
      }
      this.emit(name, data);
    }
  };

  MeshClient.prototype.__initialize = function (opts, callback) {
    var start = () => {
      delete this.data;
      var config = { protocol: opts.protocol || 'http', host: opts.hostname, port: opts.port };
      ['username', 'password', 'authType', 'token', 'useCookie', 'cookieEventHandler', 'allowSelfSignedCerts'].forEach(function (k) {
        if (opts[k]) config[k] = opts[k];
      });
      var createOpts = { config: config, info: opts.info, reconnect: opts.reconnect, socket: opts.socket, loginRetry: opts.loginRetry };
      if (typeof opts.cookieEventHandler === 'function') {
        createOpts.cookieEventHandler = opts.cookieEventHandler;
        createOpts.cookieName = opts.cookieName;
        createOpts.cookieEventInterval = opts.cookieEventInterval;
      }
      HappnClient.create(createOpts, (e, data) => {
        if (e) {
          this.emit(e.name && e.name.indexOf('AccessDenied') === 0 ? 'login/deny' : 'login/error', e);
          return callback(e);
        }
        this.data = data;
        this.__watchConnection(data);
        this.__loadSchema(opts, callback);
      });
    };
    if (this.isConnected()) this.data.disconnect(start);
    else start();
  };

  MeshClient.prototype.__watchConnection = function (data) {
    data.onEvent('reconnect-scheduled', (d) => {
      this.__deprecatedEmit('reconnect-scheduled', d);
      this.emit('reconnect/scheduled', d);
    });
    data.onEvent('reconnect-successful', (d) => {
      this.token = data.session && data.session.token;
      this.__deprecatedEmit('reconnect-successful', d);
      this.emit('reconnect/successful', d);
    });
    data.onEvent('connection-ended', (d) => {
      this.__deprecatedEmit('connection-ended', d);
      this.emit('connection/ended', d);
    });
    data.onEvent('session-ended', (d) => {
      this.emit('session/ended', d);
    });
  };

  // __loadSchema reads /mesh/schema/* until the mesh has finished initializing, builds the API
  // and follows description changes.
  MeshClient.prototype.__loadSchema = function (opts, callback) {
    var data = this.data;
    var busy = false;
    var done = false;
    var finish = (e) => {
      if (done) return;
      done = true;
      clearInterval(this.__schemaTimer);
      if (e) this.emit('login/error', e);
      callback(e);
    };
    var attempt = () => {
      if (busy || done) return;
      busy = true;
      data.get('/mesh/schema/*', (e, items) => {
        busy = false;
        if (e) return finish(e);
        var config;
        var description;
        (items || []).forEach(function (item) {
          if (item._meta && item._meta.path === '/mesh/schema/config') config = item;
          else if (item._meta && item._meta.path === '/mesh/schema/description') description = item;
        });
        if (!config || !description || !config.name || !description.name || description.initializing) {
          this.log.warn('awaiting schema');
          return;
        }
        clearInterval(this.__schemaTimer);
        this.__api = new MeshApi(data, config, description, this.log);
        this.exchange = this.__api.exchange;
        this.event = this.__api.event;
        this.token = data.session.token;
        this.info = {};
        Object.defineProperty(this.info, 'name', { enumerable: true, value: config.name });
        Object.defineProperty(this.info, 'version', { enumerable: true, value: config.version });
        data.on('/mesh/schema/description', (d) => this.__descriptionChanged(d), (e) => {
          if (e) return finish(e);
          if (done) return;
          done = true;
          this.emit('login/allow');
          var all = Object.keys(description.components || {}).map(function (name) {
            return { description: clone(description.components[name]) };
          });
          this.emit('components/created', all);
          this.emit('create/components', all);
          callback(null);
        });
      });
    };
    this.__schemaTimer = setInterval(attempt, opts.schemaRetryInterval || 20000);
    attempt();
  };

  MeshClient.prototype.__descriptionChanged = function (description) {
    var api = this.__api;
    if (!api || !description || !description.components) return;
    if (description.name !== api.domain) {
      this.log.warn('could not find endpoint ' + description.name);
      return;
    }
    var previous = api.description;
    var change = api.update(description);
    var list = function (items) {
      return items.map(function (c) {
        return { description: clone(c) };
      });
    };
    if (change.destroyed.length) {
      this.emit('components/destroyed', list(change.destroyed));
      this.emit('destroy/components', list(change.destroyed));
    }
    if (change.created.length) {
      this.emit('components/created', list(change.created));
      this.emit('create/components', list(change.created));
    }
    this.__previousDescription = previous;
  };

  // ---------------------------------------------------------------- happner-client

  // Operations sends a HappnerClient's requests (version-checked against the mesh description)
  // and follows its events, as happner-client's operations provider does.
  function Operations(owner, describe) {
    this.owner = owner;
    this.describe = describe;
    this.seq = 0;
    this.awaiting = {};
    this.responsePaths = {};
  }

  Operations.prototype.client = function (callback) {
    var data = this.owner.__data;
    if (!data || !this.owner.__connected) {
      fail(callback, new Error('Not connected'));
      return null;
    }
    return data;
  };

  Operations.prototype.subscribe = function (component, version, key, handler, callback, options) {
    var data = this.client(callback);
    if (!data) return;
    this.describe(component, version, null, (e, target) => {
      if (e) return callback(e);
      var filtered = function (payload, meta) {
        if (meta && meta.componentVersion && !semver.coercedSatisfies(meta.componentVersion, version)) return;
        handler(payload, meta);
      };
      var path = '/_events/' + target.domain + '/' + component + '/' + key;
      data.on(path, Object.assign({}, options || {}, { event_type: 'set', meta: { componentVersion: version } }), filtered, callback);
    });
  };

  Operations.prototype.unsubscribe = function (id, callback) {
    var data = this.client(callback);
    if (data) data.off(id, callback);
  };

  Operations.prototype.unsubscribePath = function (component, key, callback) {
    var data = this.client(callback);
    if (!data) return;
    this.describe(component, '*', null, (e, target) => {
      if (e) return callback(e);
      data.offPath('/_events/' + target.domain + '/' + component + '/' + key, callback);
    });
  };

  Operations.prototype.forgetResponsePaths = function (sessionId) {
    var data = this.owner.__data;
    Object.keys(this.responsePaths).forEach((path) => {
      if (path.indexOf(sessionId) >= 0) return;
      delete this.responsePaths[path];
      if (data) data.offPath(path, function () {});
    });
  };

  Operations.prototype.responsePath = function (data, target, component, method, callback) {
    var sid = data.session.id;
    var path = '/_exchange/responses/' + (target.secure ? [target.domain, component, method, sid, '*'].join('/') : sid + '/*');
    var state = this.responsePaths[path];
    if (state === true) return callback();
    if (Array.isArray(state)) return state.push(callback);
    var waiting = (this.responsePaths[path] = [callback]);
    data.on(path, { event_type: 'set' }, this.response.bind(this), (e) => {
      if (e) delete this.responsePaths[path];
      else this.responsePaths[path] = true;
      waiting.forEach(function (cb) {
        cb(e);
      });
    });
  };

  Operations.prototype.response = function (payload, meta) {
    var seq = meta.path.substring(meta.path.lastIndexOf('/') + 1);
    var h = this.awaiting[seq];
    if (!h) return;
    clearTimeout(h.timer);
    delete this.awaiting[seq];
    if (payload.status === 'ok') return h.callback.apply(null, payload.args || [null]);
    h.callback(remoteError((payload.args || [])[0]));
  };

  Operations.prototype.request = function (component, version, method, args, callback, origin) {
    var data = this.client(callback);
    if (!data) return;
    this.describe(component, version, method, (e, target) => {
      if (e) return callback(e);
      this.responsePath(data, target, component, method, (e) => {
        if (e) return callback(e);
        if (!this.client(callback)) return;
        var seq = ++this.seq;
        var sid = data.session.id;
        var callbackAddress = target.secure
          ? '/_exchange/responses/' + [target.domain, component, method, sid, seq].join('/')
          : '/_exchange/responses/' + [sid, target.domain, component, method, seq].join('/');
        var message = { callbackAddress: callbackAddress, args: args, origin: { id: sid }, version: version };
        if (target.secure && data.session.user) message.origin.username = data.session.user.username;
        var options = { timeout: this.owner.__requestTimeout, noStore: true, noCluster: true };
        if (origin && origin.username) options.onBehalfOf = origin.username;
        this.awaiting[seq] = {
          callback: callback,
          timer: setTimeout(() => {
            delete this.awaiting[seq];
            callback(new Error('Timeout awaiting response on ' + component + '.' + method + ' version: ' + version));
          }, this.owner.__responseTimeout),
        };
        data.set('/_exchange/requests/' + [target.domain, component, method].join('/'), message, options, (e) => {
          if (!e) return;
          var h = this.awaiting[seq];
          if (!h) return;
          clearTimeout(h.timer);
          delete this.awaiting[seq];
          callback(e);
        });
      });
    });
  };

  // connectData connects owner's happn client and reports connection changes as the events
  // connected, disconnected, reconnecting and reconnected.
  function connectData(owner, connection, options, callback) {
    if (typeof connection === 'function') {
      callback = connection;
      connection = null;
      options = null;
    }
    if (typeof options === 'function') {
      callback = options;
      options = null;
    }
    var merged = Object.assign({}, connection || {}, options || {});
    if (merged.config) merged = Object.assign({}, merged, merged.config);
    HappnClient.create(merged, function (e, data) {
      if (e) return callback(e);
      owner.__data = data;
      owner.__connected = true;
      var ids = [
        data.onEvent('connection-ended', function () {
          if (!owner.__connected) return;
          owner.__connected = false;
          owner.emit('disconnected');
        }),
        data.onEvent('reconnect-scheduled', function (opts) {
          if (owner.__connected) {
            owner.__connected = false;
            owner.emit('disconnected');
          }
          owner.emit('reconnecting', opts);
        }),
        data.onEvent('reconnect-successful', function () {
          owner.__connected = true;
          owner.emit('reconnected');
        }),
      ];
      owner.__dataEvents = ids;
      owner.emit('connected');
      callback(null, owner);
    });
  }

  function disconnectData(owner, opts, callback) {
    var data = owner.__data;
    owner.__connected = false;
    if (!data) return setTimeout(callback, 0);
    (owner.__dataEvents || []).forEach(function (id) {
      data.offEvent(id);
    });
    data.disconnect(opts || {}, function (e) {
      owner.__data = undefined;
      callback(e);
    });
  }

  // mountModel fills api.exchange and api.event for a model {component: {version, methods}}.
  function mountModel(owner, api, model) {
    Object.keys(model).forEach(function (name) {
      var component = model[name];
      if (!component.version) throw new Error('Missing version');
      var version = component.version;
      api.event[name] = {
        on: function (key, options, handler, callback) {
          if (typeof options === 'function') {
            callback = handler;
            handler = options;
            options = {};
          }
          return withPromise(callback, function (cb) {
            owner.__operations.subscribe(name, version, key, handler, cb, options);
          });
        },
        once: function (key, options, handler, callback) {
          if (typeof options === 'function') {
            callback = handler;
            handler = options;
            options = {};
          }
          return this.on(key, Object.assign({}, options, { count: 1 }), handler, callback);
        },
        off: function (id, callback) {
          return withPromise(callback, function (cb) {
            owner.__operations.unsubscribe(id, cb);
          });
        },
        offPath: function (key, callback) {
          return withPromise(callback, function (cb) {
            owner.__operations.unsubscribePath(name, key, cb);
          });
        },
      };
      api.exchange[name] = { __version: version };
      if (component.methods == null) return;
      if (typeof component.methods !== 'object') throw new Error('Missing methods');
      Object.keys(component.methods).forEach(function (method) {
        api.exchange[name][method] = promisify(function () {
          var args = Array.prototype.slice.call(arguments);
          var callback = args.pop();
          owner.__operations.request(name, version, method, args, callback, this && this.$origin);
        });
      });
    });
    api.exchange.$call = decoupledCall(api.exchange);
    return api;
  }

  /**
   * new HappnerClient({requestTimeout, responseTimeout}): connect(), then construct(model) with
   * components and version ranges; calls go to implementations whose version satisfies them.
   */
  function HappnerClient(opts) {
    EventEmitter.call(this);
    opts = opts || {};
    this.__opts = opts;
    this.log = createLogger('HappnerClient');
    this.__requestTimeout = typeof opts.requestTimeout === 'number' ? opts.requestTimeout : 60e3;
    this.__responseTimeout = typeof opts.responseTimeout === 'number' ? opts.responseTimeout : 120e3;
    this.__connected = false;
    this.__description = null;
    this.__describing = null;
    this.__operations = new Operations(this, this.__describeFor.bind(this));
    this.on('reconnected', () => {
      this.__description = null;
      this.__operations.forgetResponsePaths(this.__data.session.id);
    });
  }

  inherit(HappnerClient);

  /** HappnerClient.create({host, port, protocol, username, password, token}) resolves to a connected client. */
  HappnerClient.create = function (options) {
    options = options || {};
    var client = new HappnerClient();
    return client.connect(null, {
      host: options.host,
      port: options.port,
      protocol: options.protocol,
      username: options.username,
      password: options.password,
      token: options.token,
    });
  };

  /** connect([connection], [options], [callback]) connects and logs in: {host, port, protocol, username, password, token}. */
  HappnerClient.prototype.connect = promisify(function (connection, options, callback) {
    if (typeof connection === 'function') {
      callback = connection;
      connection = options = null;
    } else if (typeof options === 'function') {
      callback = options;
      options = null;
    }
    connectData(this, connection, options, (e) => {
      if (e) return callback(e);
      if (!this.__opts.discoverMethods) return callback(null, this);
      this.__getDescription((e, description) => {
        if (e) this.log.error('fetching the description failed', e);
        this.endPointDescription = description;
        callback(null, this);
      });
    });
  });

  HappnerClient.prototype.disconnect = promisify(function (opts, callback) {
    if (typeof opts === 'function') {
      callback = opts;
      opts = null;
    }
    disconnectData(this, opts, callback);
  });

  HappnerClient.prototype.logout = promisify(function (callback) {
    this.disconnect({ revokeToken: true }, callback);
  });

  /** dataClient returns the happn client. */
  HappnerClient.prototype.dataClient = function () {
    return this.__data;
  };

  HappnerClient.prototype.__getDescription = function (callback) {
    if (this.__description) return callback(null, this.__description);
    if (this.__describing) return this.__describing.push(callback);
    var waiting = (this.__describing = [callback]);
    var attempt = () => {
      var data = this.__data;
      if (!data || !this.__connected) {
        this.__describing = null;
        return waiting.forEach((cb) => cb(new Error('Not connected')));
      }
      data.get('/mesh/schema/description', (e, description) => {
        if (e) {
          this.__describing = null;
          return waiting.forEach((cb) => cb(e));
        }
        if (!description || description.initializing) return setTimeout(attempt, 1000);
        this.__description = description;
        this.__describing = null;
        waiting.forEach((cb) => cb(null, description));
      });
    };
    attempt();
  };

  HappnerClient.prototype.__describeFor = function (component, version, method, callback) {
    this.__getDescription((e, description) => {
      if (e) return callback(e);
      var data = this.__data;
      var target = { domain: description.name, secure: !!(data && data.session && data.session.happn && data.session.happn.secure) };
      if (method === null) return callback(null, target);
      var c = description.components && description.components[component];
      if (!c || !semver.coercedSatisfies(c.version, version) || !c.methods || !c.methods[method]) {
        return callback(new Error('Not implemented ' + component + ':' + version + ':' + method));
      }
      callback(null, target);
    });
  };

  /** construct(model) returns {exchange, event} for the components and version ranges of model. */
  HappnerClient.prototype.construct = function (model) {
    if (!model || typeof model !== 'object') throw new Error('Missing model');
    if (this.__opts.discoverMethods && this.endPointDescription) {
      var known = this.endPointDescription.components || {};
      Object.keys(model).forEach(function (name) {
        var found = known[name];
        if (!found) return;
        model[name].methods = model[name].methods || {};
        Object.keys(found.methods || {}).forEach(function (m) {
          if (model[name].methods[m] == null) model[name].methods[m] = found.methods[m];
        });
      });
    }
    return mountModel(this, { exchange: {}, event: {} }, model);
  };

  /**
   * new LightHappnerClient({domain}): calls go straight to /_exchange/requests/<domain>/...
   * without reading the description: exchange.$call and event.$on/$once/$off/$offPath.
   */
  function LightHappnerClient(opts) {
    if (!opts) throw new Error('light client requires opts object');
    if (typeof opts.name !== 'string' && typeof opts.domain !== 'string') throw new Error('light client requires opts.domain setting');
    EventEmitter.call(this);
    this.__domain = opts.domain || opts.name;
    this.log = createLogger('LightHappnerClient');
    this.__requestTimeout = typeof opts.requestTimeout === 'number' ? opts.requestTimeout : 60e3;
    this.__responseTimeout = typeof opts.responseTimeout === 'number' ? opts.responseTimeout : 120e3;
    this.__connected = false;
    var self = this;
    this.__operations = new Operations(this, function (component, version, method, callback) {
      var data = self.__data;
      setTimeout(function () {
        callback(null, { domain: self.__domain, secure: !!(data && data.session && data.session.happn && data.session.happn.secure) });
      }, 0);
    });
    this.on('reconnected', () => this.__operations.forgetResponsePaths(this.__data.session.id));
    this.exchange = { $call: this.__call.bind(this) };
    this.event = {
      $on: function (p, handler, callback) {
        return withPromise(callback, function (cb) {
          self.__operations.subscribe(p.component, p.version || '*', p.path, handler, cb, p.options);
        });
      },
      $once: function (p, handler, callback) {
        return withPromise(callback, function (cb) {
          self.__operations.subscribe(p.component, p.version || '*', p.path, handler, cb, Object.assign({}, p.options || {}, { count: 1 }));
        });
      },
      $off: function (id, callback) {
        return withPromise(callback, function (cb) {
          self.__operations.unsubscribe(id, cb);
        });
      },
      $offPath: function (p, callback) {
        return withPromise(callback, function (cb) {
          self.__operations.unsubscribePath(p.component, p.path, cb);
        });
      },
    };
  }

  inherit(LightHappnerClient);

  LightHappnerClient.create = function (options) {
    options = options || {};
    var client = new LightHappnerClient(options);
    return client.connect(null, {
      host: options.host,
      port: options.port,
      protocol: options.protocol,
      username: options.username,
      password: options.password,
      token: options.token,
    });
  };

  LightHappnerClient.prototype.connect = HappnerClient.prototype.connect;
  LightHappnerClient.prototype.__opts = {};
  LightHappnerClient.prototype.disconnect = HappnerClient.prototype.disconnect;
  LightHappnerClient.prototype.logout = HappnerClient.prototype.logout;
  LightHappnerClient.prototype.dataClient = HappnerClient.prototype.dataClient;

  LightHappnerClient.prototype.construct = function (model) {
    if (!model || typeof model !== 'object') throw new Error('Missing model');
    return mountModel(this, { exchange: {}, event: {} }, model);
  };

  // __call is exchange.$call: no result gives null, one gives the value, several an array (or,
  // with a callback, several callback arguments).
  LightHappnerClient.prototype.__call = function (p, callback) {
    var origin = p.as ? { username: p.as, override: true } : p.origin;
    var run = (cb) => {
      this.__operations.request(p.component, p.version || '*', p.method, p.arguments || [], function () {
        var args = Array.prototype.slice.call(arguments);
        if (args[0] != null) return cb(args[0]);
        if (args.length <= 1) return cb(null, null);
        cb.apply(null, args);
      }, origin);
    };
    if (typeof callback === 'function') return run(callback);
    return new Promise(function (resolve, reject) {
      run(function (e) {
        if (e) return reject(e);
        if (arguments.length > 2) return resolve(Array.prototype.slice.call(arguments, 1));
        resolve(arguments[1]);
      });
    });
  };

  // ---------------------------------------------------------------- exports

  Happner.MeshClient = MeshClient;
  Happner.HappnerClient = HappnerClient;
  Happner.LightHappnerClient = LightHappnerClient;
  Happner.Promisify = promisify;
  Happner.MeshError = MeshError;
  Happner.EventEmitter = EventEmitter;
  Happner.createLogger = createLogger;
  Happner.semver = semver;
  root.MeshClient = MeshClient;
})(typeof window !== 'undefined' ? window : this);
