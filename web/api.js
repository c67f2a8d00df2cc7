// api.js - the Web API (/api/<method>) as Slack's clients call it: POST
// application/x-www-form-urlencoded, the token as a bearer header, always
// {"ok":…}. A 429 is waited out (Retry-After) and asked again, a few times.

export class ApiError extends Error {
  constructor(method, code, body) {
    super(`${method}: ${code}`);
    this.method = method;
    this.code = code;
    this.body = body;
  }
}

// errors that mean "this token is no good": sign out
export const AUTH_ERRORS = new Set(['not_authed', 'invalid_auth', 'token_expired',
  'token_revoked', 'account_inactive']);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Api {
  constructor(token, base = '') {
    this.token = token;
    this.base = base;
  }

  async call(method, params = {}, { retries = 3, timeoutMs = 20000 } = {}) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') body.set(k, String(v));
    }
    for (let attempt = 0; ; attempt++) {
      let r;
      try {
        r = await fetch(`${this.base}/api/${method}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${this.token}`,
            'Content-Type': 'application/x-www-form-urlencoded' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        if (attempt < retries) { await sleep(500 * 2 ** attempt); continue; }
        throw new ApiError(method, 'network_error', String(e));
      }
      if (r.status === 429 && attempt < retries) {
        const after = Number(r.headers.get('Retry-After')) || 1;
        await sleep(Math.min(after, 30) * 1000);
        continue;
      }
      let j;
      try {
        j = await r.json();
      } catch {
        throw new ApiError(method, `http_${r.status}`, null);
      }
      if (!j || j.ok !== true) throw new ApiError(method, (j && j.error) || `http_${r.status}`, j);
      return j;
    }
  }

  // every page of a cursor-paginated method, concatenated by `key`
  async all(method, params, key, maxPages = 20) {
    const out = [];
    let cursor = '';
    for (let i = 0; i < maxPages; i++) {
      const j = await this.call(method, { ...params, cursor });
      out.push(...(j[key] || []));
      cursor = (j.response_metadata && j.response_metadata.next_cursor) || '';
      if (!cursor) break;
    }
    return out;
  }
}
