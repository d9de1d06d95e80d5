/* gridflow console: the same principals and rules as the API — it never lets anyone
   do what the API would refuse, because every button comes from `allowed_actions`
   and every refusal shows the service's own reason. */

// Each action's form and labels come from its declaration (GET /workflow): the
// console keeps no list of actions of its own.
const SUPERVISORS = ['city_supervisor', 'street_officer', 'community_staff', 'auditor', 'admin', 'grid_leader'];
const REPORTERS = ['resident', 'building_head', 'grid_worker', 'grid_leader', 'community_staff', 'intake'];

document.addEventListener('alpine:init', () => {
  Alpine.data('gridflow', () => ({
    lang: localStorage.getItem('gridflow.lang') || 'zh',
    token: localStorage.getItem('gridflow.token') || '',
    tokenInput: '', me: null, error: '', notice: '',
    route: { page: 'queue', id: null },
    categories: [], departments: [], nodes: [], grids: [], myGrids: [], actions: {},
    queue: [], queueCategory: '',
    draft: {}, issue: null, history: [], thumbs: {}, form: { action: null },
    sv: { node: '', from: '', to: '', summary: null, board: [], followups: [], misses: [] }, charts: {},
    verifyResult: null, replay: { id: '', issue: null, history: [], version: 1, max: 1 },

    t(key) { return (I18N[this.lang] && I18N[this.lang][key]) || I18N.en[key] || key; },
    toggleLang() { this.lang = this.lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('gridflow.lang', this.lang); document.documentElement.lang = this.lang === 'zh' ? 'zh-CN' : 'en'; },
    fmt(at) { return at ? new Date(at).toLocaleString(this.lang === 'zh' ? 'zh-CN' : 'en-GB', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : ''; },
    pct(x) { return x === null || x === undefined ? '—' : Math.round(x * 1000) / 10 + '%'; },
    hours(s) { return (s / 3600).toFixed(1) + 'h'; },
    go(hash) { location.hash = hash; },
    categoryName(code) { const c = this.categories.find(x => x.code === code); return c ? c.name : code; },
    departmentName(id) { const d = this.departments.find(x => x.id === id); return d ? d.name : id; },
    fieldsOf(action) { return (this.actions[action] || {}).fields || []; },
    actionLabel(action) { const a = this.actions[action]; return a ? a.labels[this.lang] || a.labels.en : this.t('action.' + action); },
    canReport() { return this.me && REPORTERS.includes(this.me.role); },
    canSupervise() { return this.me && SUPERVISORS.includes(this.me.role); },
    canAudit() { return this.me && ['auditor', 'city_supervisor', 'admin'].includes(this.me.role); },

    async api(method, path, body, headers = {}) {
      const opts = { method, headers: { Authorization: 'Bearer ' + this.token, ...headers } };
      if (body instanceof FormData) opts.body = body;
      else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers['Content-Type'] = 'application/json'; }
      const r = await fetch(path, opts);
      if (r.status === 401) { this.signOut(); throw new Error(this.t('signed_out')); }
      const data = r.headers.get('content-type')?.includes('json') ? await r.json() : null;
      if (!r.ok) {
        const e = data && data.error ? data.error : { message: r.statusText, details: {} };
        let msg = e.message;
        if (e.details && e.details.fields) msg += ': ' + Object.entries(e.details.fields).map(([k, v]) => k + ' — ' + v).join('; ');
        if (e.details && e.details.allowed_actions) msg += ' (' + this.t('allowed') + ': ' + e.details.allowed_actions.map(a => this.actionLabel(a)).join(', ') + ')';
        throw new Error(msg);
      }
      return data;
    },
    async guard(fn) { this.error = ''; try { await fn(); } catch (e) { this.error = e.message; } },

    async start() {
      document.documentElement.lang = this.lang === 'zh' ? 'zh-CN' : 'en';
      window.addEventListener('hashchange', () => this.navigate());
      await this.guard(() => this.loadWorkflow());
      if (this.token) await this.guard(() => this.loadMe());
    },
    async loadWorkflow() {
      const r = await fetch('/workflow');
      if (!r.ok) throw new Error(r.statusText);
      const wf = await r.json();
      this.actions = Object.fromEntries(wf.actions.map(a => [a.name, a]));
      window.GRIDFLOW_FIELDS = Object.fromEntries(wf.actions.map(a => [a.name, a.fields]));
    },
    async signIn() {
      this.token = this.tokenInput.trim();
      await this.guard(async () => {
        // kept as soon as the service knows it: a page reloaded while the rest loads stays signed in
        await this.api('GET', '/me');
        localStorage.setItem('gridflow.token', this.token); this.tokenInput = '';
        await this.loadMe();
      });
    },
    signOut() { this.me = null; this.token = ''; localStorage.removeItem('gridflow.token'); },
    async loadMe() {
      this.me = await this.api('GET', '/me');
      const [cats, depts, nodes] = await Promise.all([this.api('GET', '/org/categories'), this.api('GET', '/org/departments'), this.api('GET', '/org/nodes')]);
      this.categories = cats; this.departments = depts; this.nodes = nodes;
      this.grids = nodes.filter(n => n.kind === 'grid');
      this.myGrids = this.grids.filter(g => this.covers(this.me.scope, g.id));
      this.sv.node = this.me.scope_kind && this.me.scope_kind !== 'grid' && this.me.scope_kind !== 'department' ? this.me.scope : (nodes.find(n => n.kind === 'city') || {}).id;
      this.navigate();
    },
    covers(scope, id) {
      let n = this.nodes.find(x => x.id === id);
      while (n) { if (n.id === scope) return true; n = this.nodes.find(x => x.id === n.parent); }
      return false;
    },
    navigate() {
      const parts = (location.hash || '#/queue').slice(2).split('/');
      this.route = { page: parts[0] || 'queue', id: parts[1] || null };
      this.form = { action: null };
      if (this.route.page === 'queue') this.guard(() => this.loadQueue());
      if (this.route.page === 'report') this.draft = { category: (this.categories[0] || {}).code, grid_id: (this.myGrids[0] || {}).id, description: '', address: '', phone: '', settled: false, resolution: '' };
      if (this.route.page === 'issue') this.guard(() => this.loadIssue(this.route.id));
      if (this.route.page === 'supervision') this.guard(() => this.loadSupervision());
      if (this.route.page === 'audit' && this.route.id) { this.replay.id = this.route.id; this.guard(() => this.openReplay()); }
    },

    async loadQueue() {
      const q = this.queueCategory ? '?category=' + encodeURIComponent(this.queueCategory) : '';
      this.queue = (await this.api('GET', '/me/queue' + q)).items;
    },
    locate() {
      if (!navigator.geolocation) return;
      navigator.geolocation.getCurrentPosition(p => { this.draft.lat = p.coords.latitude; this.draft.lon = p.coords.longitude; });
    },
    async upload(path, file) {
      const fd = new FormData(); fd.append('file', file);
      return (await this.api('POST', path, fd)).evidence_id;
    },
    async submitReport() {
      await this.guard(async () => {
        const d = this.draft;
        const body = { grid_id: d.grid_id, category: d.category, description: d.description };
        if (d.address || d.lat) body.location = { address: d.address || undefined, lat: d.lat, lon: d.lon };
        if (d.phone) body.reporter = { phone: d.phone };
        if (d.photo) body.evidence = [await this.upload('/evidence', d.photo)];
        if (d.settled) { body.settled_on_spot = true; body.resolution = d.resolution; }
        const issue = await this.api('POST', '/issues', body);
        this.notice = this.t('reported_ok');
        this.go('#/issue/' + issue.id);
      });
    },

    async loadIssue(id) {
      this.issue = await this.api('GET', '/issues/' + id);
      this.history = (await this.api('GET', '/issues/' + id + '/history')).events;
      for (const e of this.issue.evidence) {
        if (this.thumbs[e]) continue;
        const r = await fetch('/evidence/' + e + '/thumbnail', { headers: { Authorization: 'Bearer ' + this.token } });
        if (r.ok) this.thumbs[e] = URL.createObjectURL(await r.blob());
      }
    },
    openAction(action) {
      const data = {};
      for (const f of this.fieldsOf(action)) {
        if (f.type === 'select' || f.type === 'yesno') data[f.name] = f.default ?? '';
        if (f.type === 'departments') data[f.name] = [];
        if (f.type === 'checkbox') data[f.name] = !!f.default;
        if (f.type === 'checklist') data[f.name] = {};
        if (f.type === 'issue' && this.issue.merge_candidates.length) data[f.name] = this.issue.merge_candidates[0].id;
      }
      this.form = { action, data, photo: null, tasks: {}, lead: '' };
    },
    async submitAction() {
      await this.guard(async () => {
        const { action, data, photo } = this.form;
        const body = {};
        for (const [k, v] of Object.entries(data)) if (v !== '' && v !== undefined && v !== null) body[k] = v;
        for (const f of this.fieldsOf(action)) if (f.type === 'list') body[f.name] = (data[f.name] || '').split(/[,，、]/).map(s => s.trim()).filter(Boolean);
        for (const f of this.fieldsOf(action)) if (f.type === 'yesno' && f.name in body) body[f.name] = body[f.name] === 'yes';
        // the departments' tasks (分工) and the lead (牵头), where the person gave any
        const { tasks, lead } = this.form;
        for (const f of this.fieldsOf(action)) if (f.type === 'departments' && (lead || Object.values(tasks).some(Boolean))) body[f.name] = body[f.name].map(id => ({ department_id: id, task: tasks[id] || undefined, lead: id === lead }));
        // a local date and time on the form, an instant with its offset in the request
        for (const f of this.fieldsOf(action)) if (f.type === 'datetime' && f.name in body) body[f.name] = new Date(body[f.name]).toISOString();
        for (const f of this.fieldsOf(action)) if (f.type === 'checklist' && !Object.keys(body[f.name] || {}).length) delete body[f.name];
        if (photo) body.evidence = [await this.upload('/issues/' + this.issue.id + '/evidence', photo)];
        await this.api('POST', '/issues/' + this.issue.id + '/actions/' + action, body, { 'If-Match': '"' + this.issue.version + '"' });
        this.notice = this.t('done') + ': ' + this.actionLabel(action);
        this.form = { action: null };
        await this.loadIssue(this.issue.id);
      });
    },

    async loadSupervision() {
      const n = encodeURIComponent(this.sv.node);
      const period = (this.sv.from ? '&from=' + this.sv.from : '') + (this.sv.to ? '&to=' + this.sv.to : '');
      const [summary, board, ranks, trend, misses] = await Promise.all([
        this.api('GET', '/supervision/summary?node=' + n + period),
        this.api('GET', '/supervision/escalations?node=' + n),
        this.api('GET', '/supervision/rankings?level=community' + period),
        this.api('GET', '/supervision/trend?node=' + n + period),
        this.api('GET', '/supervision/patrol-misses?node=' + n + period)]);
      this.sv.summary = summary; this.sv.board = board.items; this.sv.followups = board.followups || []; this.sv.misses = misses.items;
      this.$nextTick(() => this.draw(summary, ranks, trend));
    },
    chart(id, config) {
      if (this.charts[id]) this.charts[id].destroy();
      const el = document.getElementById(id);
      if (el) this.charts[id] = new Chart(el, config);
    },
    draw(summary, ranks, trend) {
      const tiers = ['untriaged', 'small', 'big', 'hard'];
      this.chart('chart-tier', { type: 'bar', data: { labels: tiers.map(x => this.t('tier.' + x)), datasets: [{ label: this.t('issues'), data: tiers.map(x => summary.by_tier[x] || 0), backgroundColor: ['#999', '#4c9f70', '#e0a030', '#d0453a'] }] }, options: { plugins: { legend: { display: false } } } });
      const l = summary.open_deadlines;
      this.chart('chart-lights', { type: 'doughnut', data: { labels: [this.t('green'), this.t('yellow'), this.t('red'), this.t('paused')], datasets: [{ data: [l.green, l.yellow, l.red, l.paused], backgroundColor: ['#4c9f70', '#e0a030', '#d0453a', '#999'] }] } });
      this.chart('chart-trend', { type: 'line', data: { labels: trend.days.map(d => d.date.slice(5)), datasets: ['reported', 'closed', 'whistles'].map((m, i) => ({ label: this.t('trend.' + m), data: trend.days.map(d => d[m]), borderColor: ['#3b6fb6', '#4c9f70', '#d0453a'][i], tension: 0.2 })) } });
      this.chart('chart-rank', { type: 'bar', data: { labels: ranks.items.map(r => r.rank === null ? `${r.name} (${this.t('insufficient_sample')})` : r.name), datasets: [{ label: this.t('score'), data: ranks.items.map(r => r.score), backgroundColor: '#3b6fb6' }] }, options: { indexAxis: 'y', plugins: { legend: { display: false } } } });
    },

    async verify() { await this.guard(async () => { this.verifyResult = await this.api('GET', '/audit/verify'); }); },
    async openReplay() {
      await this.guard(async () => {
        const id = this.replay.id.trim();
        const now = await this.api('GET', '/issues/' + id);
        this.replay.history = (await this.api('GET', '/issues/' + id + '/history')).events;
        this.replay.max = now.version; this.replay.version = now.version; this.replay.issue = now;
      });
    },
    async loadReplayVersion() {
      await this.guard(async () => { this.replay.issue = await this.api('GET', '/issues/' + this.replay.id.trim() + '?version=' + this.replay.version); });
    },
  }));
});
