// Pulsetap dashboard: plain browser JavaScript, no build step.
//
// Everything a customer typed (comments, tag values, interactions) reaches the page through
// `textContent` or `createTextNode` only, never as markup: a comment is always just text.
// Charts are SVG built with `createElementNS`.
'use strict';

(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const KEY = 'pulsetap.key';
  const SURVEY = 'pulsetap.survey';
  const THEME = 'pulsetap.theme';
  const DAY_MS = 86_400_000;

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat(undefined);
  const decimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const percent = (value) => `${Math.round(value)}%`;
  const shortDate = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const longDate = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
  const dateTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

  const state = {
    key: null,
    surveys: [],
    survey: null,
    from: null,
    to: null,
    tagKey: '',
    tagValue: '',
    groupBy: '',
    comments: [],
    commentsTooFew: false,
    nextBefore: null,
    live: null,
    generation: 0,
    refreshTimer: null,
    lastTrend: null,
  };

  // ---- small DOM helpers: text goes in as text nodes, never parsed ----

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function svg(tag, attributes = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function svgTitle(text) {
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = text;
    return title;
  }

  // ---- theme ----

  const THEMES = ['auto', 'light', 'dark'];
  const THEME_NAMES = { auto: 'follow the system', light: 'light', dark: 'dark' };
  const THEME_ICONS = { auto: '◐', light: '☀', dark: '☾' };

  function applyTheme(theme) {
    document.documentElement.dataset.theme = theme;
    const button = $('theme');
    button.textContent = THEME_ICONS[theme];
    button.title = `Theme: ${THEME_NAMES[theme]}`;
  }

  // ---- dates (UTC days, as the API counts them) ----

  const isoDay = (date) => date.toISOString().slice(0, 10);
  const parseDay = (text) => new Date(`${text}T00:00:00Z`);
  const today = () => isoDay(new Date());
  const daysBefore = (text, days) => isoDay(new Date(parseDay(text).getTime() - days * DAY_MS));

  // ---- API ----

  class SignedOut extends Error {}

  async function api(path) {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${state.key}` },
      cache: 'no-store',
    });
    if (response.status === 401) {
      signOut('This key is no longer accepted. Sign in again.');
      throw new SignedOut();
    }
    if (!response.ok) {
      let message = `The collector answered ${response.status}.`;
      try {
        message = (await response.json()).message || message;
      } catch (_) {
        // not JSON: keep the status line
      }
      throw new Error(message);
    }
    return response.json();
  }

  function surveyPath(suffix, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== '') query.set(name, value);
    }
    const text = query.toString();
    return `/v1/surveys/${encodeURIComponent(state.survey.id)}/${suffix}${text ? `?${text}` : ''}`;
  }

  const tagFilter = () => (state.tagKey && state.tagValue ? `${state.tagKey}:${state.tagValue}` : '');

  // ---- sign in and out ----

  async function signIn(key) {
    state.key = key;
    const list = await api('/v1/surveys');
    sessionStorage.setItem(KEY, key);
    state.surveys = list.surveys;
    $('signin').hidden = true;
    $('app').hidden = false;
    const picker = $('survey');
    picker.replaceChildren(...list.surveys.map((survey) => el('option', { value: survey.id, text: survey.id })));
    if (list.surveys.length === 0) {
      showError('This key may read no survey.');
      return;
    }
    const remembered = sessionStorage.getItem(SURVEY);
    const first = list.surveys.find((survey) => survey.id === remembered) || list.surveys[0];
    picker.value = first.id;
    selectSurvey(first.id);
  }

  function signOut(message) {
    stopLive();
    sessionStorage.removeItem(KEY);
    state.key = null;
    $('app').hidden = true;
    $('signin').hidden = false;
    const error = $('signin-error');
    error.textContent = message || '';
    error.hidden = !message;
    $('key').value = '';
    $('key').focus();
  }

  // ---- choosing what to look at ----

  function selectSurvey(id) {
    state.survey = state.surveys.find((survey) => survey.id === id);
    sessionStorage.setItem(SURVEY, id);
    state.tagKey = '';
    state.tagValue = '';
    state.groupBy = state.survey.tags.includes('agent') ? 'agent' : state.survey.tags[0] || '';
    $('question').textContent = state.survey.question;

    const tagKey = $('tag-key');
    tagKey.replaceChildren(
      el('option', { value: '', text: 'Everyone' }),
      ...state.survey.tags.map((tag) => el('option', { value: tag, text: capitalise(tag) })),
    );
    tagKey.value = '';
    $('tag-key-field').hidden = state.survey.tags.length === 0;
    $('tag-value-field').hidden = true;

    const groupBy = $('group-by');
    groupBy.replaceChildren(...state.survey.tags.map((tag) => el('option', { value: tag, text: tag })));
    groupBy.value = state.groupBy;
    groupBy.hidden = state.survey.tags.length === 0;
    $('group-by-label').textContent = state.survey.tags.length === 0 ? 'Breakdown' : 'By';

    renderLegend();
    state.comments = [];
    state.nextBefore = null;
    refreshAll();
    startLive();
  }

  function setRange(from, to) {
    state.from = from;
    state.to = to;
    $('from').value = from;
    $('to').value = to;
    const days = Math.round((parseDay(to) - parseDay(from)) / DAY_MS) + 1;
    for (const chip of document.querySelectorAll('.chip')) {
      chip.setAttribute('aria-pressed', String(to === today() && Number(chip.dataset.days) === days));
    }
  }

  async function loadTagValues() {
    const field = $('tag-value-field');
    const select = $('tag-value');
    if (!state.tagKey) {
      field.hidden = true;
      return;
    }
    $('tag-value-label').textContent = capitalise(state.tagKey);
    const breakdown = await api(surveyPath('breakdown', { by: state.tagKey, from: state.from, to: state.to }));
    const values = breakdown.groups.map((group) => group.value);
    if (state.tagValue && !values.includes(state.tagValue)) values.push(state.tagValue);
    select.replaceChildren(
      el('option', { value: '', text: `Any ${state.tagKey}` }),
      ...values.sort().map((value) => el('option', { value, text: value })),
    );
    select.value = state.tagValue;
    field.hidden = false;
  }

  // ---- loading ----

  function refreshAll() {
    state.comments = [];
    state.nextBefore = null;
    refreshFigures();
    loadComments(false);
  }

  /// New responses arrive in bursts; one refresh per burst is enough.
  function refreshSoon() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refreshFigures, 350);
  }

  async function refreshFigures() {
    const generation = ++state.generation;
    const tag = tagFilter();
    updateRangeText();
    try {
      const requests = [
        api(surveyPath('summary', { from: state.from, to: state.to, tag })),
        api(surveyPath('timeseries', { interval: 'day', from: state.from, to: state.to, tag })),
        state.groupBy
          ? api(surveyPath('breakdown', { by: state.groupBy, from: state.from, to: state.to }))
          : Promise.resolve(null),
      ];
      const [summary, timeseries, breakdown] = await Promise.all(requests);
      if (generation !== state.generation) return; // a newer refresh is under way
      hideError();
      renderSummary(summary);
      renderDistribution(summary);
      renderTrend(timeseries);
      renderBreakdown(breakdown);
    } catch (error) {
      if (!(error instanceof SignedOut) && generation === state.generation) showError(error.message);
    }
    loadProblems();
    loadUndelivered();
  }

  /// Refused ratings by reason: a wrong signature or an origin not allowed otherwise only shows
  /// as ratings that never arrive.
  async function loadProblems() {
    const survey = state.survey.id;
    let refusals;
    try {
      refusals = await api(surveyPath('refusals'));
    } catch (_) {
      return; // the figures' own error, if any, is already shown
    }
    if (state.survey.id !== survey) return;
    const items = refusals.reasons.map((refused) => el('li', {},
      el('strong', {}, `${plural(refused.count, 'rating', 'ratings')} refused: ${refused.reason}`),
      el('span', { class: 'muted small' }, ` · last ${dateTime.format(new Date(refused.last_at))}`),
      el('p', { class: 'small' }, refused.last_message)));
    $('problems').replaceChildren(...items);
    $('problems-note').textContent = `since ${dateTime.format(new Date(refusals.since))}`;
    $('problems-card').hidden = items.length === 0;
  }

  /// Alerts the webhook never took: without this panel an unhappy customer whose alert was set
  /// aside would go unnoticed.
  async function loadUndelivered() {
    const survey = state.survey.id;
    let undelivered;
    try {
      undelivered = await api(surveyPath('undelivered-alerts'));
    } catch (_) {
      return; // the figures' own error, if any, is already shown
    }
    if (state.survey.id !== survey) return;
    const items = undelivered.alerts.map((alert) => el('li', {},
      el('strong', {}, `${plural(alert.responses.length, 'unhappy rating', 'unhappy ratings')} not delivered`),
      el('span', { class: 'muted small' },
        ` · ${plural(alert.attempts, 'attempt', 'attempts')}, set aside ${dateTime.format(new Date(alert.gave_up_at))} · ${alert.idempotency_key}`),
      el('p', { class: 'small' }, alert.last_error),
      ...alert.responses.map((record) => el('p', { class: 'small' }, undeliveredLine(record)))));
    $('undelivered').replaceChildren(...items);
    $('undelivered-note').textContent = plural(undelivered.alerts.length, 'message', 'messages');
    $('undelivered-card').hidden = items.length === 0;
  }

  /// One rating of an undelivered alert, as text: its face, where it came from, its comment.
  function undeliveredLine(record) {
    const survey = state.survey;
    const face = survey.scale[record.score - 1] ?? '';
    const label = survey.labels[record.score - 1] ?? '';
    const where = record.interaction ? ` for ${record.interaction}` : '';
    const tags = Object.entries(record.tags).map(([key, value]) => `${key}=${value}`).join(', ');
    const comment = record.comment ? ` “${record.comment}”` : '';
    return `${face} ${label} (${record.score}/${survey.scale.length})${where}${tags ? ` · ${tags}` : ''} · ${dateTime.format(new Date(record.updated_at))}${comment}`;
  }

  async function loadComments(older) {
    const survey = state.survey.id;
    try {
      const page = await api(surveyPath('comments', {
        from: state.from,
        to: state.to,
        tag: tagFilter(),
        limit: 20,
        before: older ? state.nextBefore : null,
      }));
      if (state.survey.id !== survey) return;
      state.commentsTooFew = Boolean(page.too_few);
      for (const record of page.comments) addComment(record, false);
      state.nextBefore = page.next_before ?? null;
      renderComments();
    } catch (error) {
      if (!(error instanceof SignedOut)) showError(error.message);
    }
  }

  function updateRangeText() {
    const from = longDate.format(parseDay(state.from));
    const to = longDate.format(parseDay(state.to));
    const filter = tagFilter() ? ` · ${state.tagKey} ${state.tagValue}` : '';
    $('range-text').textContent = `${state.survey.id} · ${from} – ${to} (UTC)${filter}`;
  }

  function showError(message) {
    const banner = $('load-error');
    banner.textContent = message;
    banner.hidden = false;
  }

  function hideError() {
    $('load-error').hidden = true;
  }

  // ---- scores and colours ----

  /// Red for the worst emoji through amber to green for the best, for any scale length.
  const PALETTE = ['#e5484d', '#f97316', '#facc15', '#84cc16', '#10b981'];
  function scoreColour(score, max) {
    const position = max <= 1 ? 1 : (score - 1) / (max - 1);
    return PALETTE[Math.round(position * (PALETTE.length - 1))];
  }

  const emojiOf = (score) => state.survey.scale[score - 1] || String(score);
  const labelOf = (score) => state.survey.labels[score - 1] || String(score);

  // ---- key figures ----

  /// Why a group filtered by a tag value shows no figures (the collector's privacy floor).
  const tooFewText = () => `Too few responses to show (under ${state.survey.min_group_size}), so no customer can be singled out.`;

  function renderSummary(summary) {
    const max = state.survey.scale.length;
    if (summary.too_few) {
      for (const id of ['kpi-responses', 'kpi-rate', 'kpi-csat', 'kpi-average']) $(id).textContent = '—';
      $('kpi-impressions').textContent = tooFewText();
      for (const id of ['kpi-rate-note', 'kpi-csat-note', 'kpi-average-emoji', 'kpi-average-note']) $(id).textContent = '';
      $('kpi-csat-interval').replaceChildren();
      return;
    }
    $('kpi-responses').textContent = number.format(summary.responses);
    $('kpi-impressions').textContent = plural(summary.impressions, 'widget', 'widgets') + ' shown'
      + (summary.unconfirmed_clicks ? ` · ${plural(summary.unconfirmed_clicks, 'unconfirmed email click', 'unconfirmed email clicks')}` : '');
    const rate = summary.response_rate;
    $('kpi-rate').textContent = rate === null ? '—' : percent(rate);
    // Each answer counts against what invited it (a widget shown, a ticket a helpdesk
    // registered), so the rate never passes 100%.
    $('kpi-rate-note').textContent = rate === null
      ? 'no widget shown or ticket registered yet'
      : `${number.format(summary.answered)} of ${plural(summary.invited, 'invitation', 'invitations')} answered (widgets shown, tickets registered)`;

    const interval = $('kpi-csat-interval');
    if (summary.csat === null) {
      $('kpi-csat').textContent = '—';
      $('kpi-csat-note').textContent = 'no responses yet';
      interval.replaceChildren();
    } else {
      $('kpi-csat').textContent = percent(summary.csat);
      const [lo, hi] = summary.csat_ci95;
      $('kpi-csat-note').textContent = `95% interval ${percent(lo)}–${percent(hi)} · ${labelOf(state.survey.satisfied_min)} or better`;
      interval.replaceChildren(intervalBar(summary.csat, lo, hi, 240, 14));
    }

    if (summary.average === null) {
      $('kpi-average').textContent = '—';
      $('kpi-average-emoji').textContent = '';
      $('kpi-average-note').textContent = '';
    } else {
      $('kpi-average').textContent = decimal.format(summary.average);
      const nearest = Math.min(max, Math.max(1, Math.round(summary.average)));
      $('kpi-average-emoji').textContent = emojiOf(nearest);
      $('kpi-average-note').textContent = `out of ${max}`;
    }
  }

  /// A 0–100 track with the 95% interval as a band and the estimate as a dot.
  function intervalBar(value, lo, hi, width, height) {
    const x = (v) => (Math.max(0, Math.min(100, v)) / 100) * width;
    const mid = height / 2;
    return svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `CSAT ${percent(value)}, 95% interval ${percent(lo)} to ${percent(hi)}` },
      svgTitle(`${percent(value)} (95% interval ${percent(lo)}–${percent(hi)})`),
      svg('rect', { class: 'interval-track', x: 0, y: mid - 3, width, height: 6, rx: 3 }),
      svg('rect', { class: 'interval-band', x: x(lo), y: mid - 5, width: Math.max(2, x(hi) - x(lo)), height: 10, rx: 5 }),
      svg('rect', { class: 'interval-point', x: x(value) - 2, y: 0, width: 4, height, rx: 2 }));
  }

  // ---- emoji distribution ----

  function renderDistribution(summary) {
    const root = $('distribution');
    const max = state.survey.scale.length;
    if (summary.too_few) {
      root.replaceChildren(el('p', { class: 'empty', text: tooFewText() }));
      return;
    }
    if (summary.responses === 0) {
      root.replaceChildren(el('p', { class: 'empty', text: 'No responses in this range yet.' }));
      return;
    }
    // One bar of the whole range, worst to best, above the per-emoji rows.
    const share = el('div', { class: 'share', 'aria-hidden': 'true' });
    for (let score = 1; score <= max; score += 1) {
      const count = summary.counts[String(score)] || 0;
      if (count === 0) continue;
      const part = el('span', { title: `${labelOf(score)}: ${number.format(count)}` });
      part.style.flexGrow = String(count);
      part.style.background = scoreColour(score, max);
      share.append(part);
    }
    const satisfied = Object.entries(summary.counts)
      .filter(([score]) => Number(score) >= state.survey.satisfied_min)
      .reduce((sum, [, count]) => sum + count, 0);
    const caption = el('p', { class: 'share-caption' },
      el('span', { text: `${percent((100 * (summary.responses - satisfied)) / summary.responses)} below ${labelOf(state.survey.satisfied_min)}` }),
      el('span', { text: `${percent((100 * satisfied) / summary.responses)} ${labelOf(state.survey.satisfied_min)} or better` }));
    const rows = [];
    for (let score = max; score >= 1; score -= 1) {
      const count = summary.counts[String(score)] || 0;
      const share = (count / summary.responses) * 100;
      const bar = el('div', { class: 'dist-bar' });
      bar.style.width = `${share}%`;
      bar.style.background = scoreColour(score, max);
      rows.push(el('div', { class: 'dist-row', title: `${labelOf(score)}: ${number.format(count)} (${share.toFixed(1)}%)` },
        el('span', { class: 'dist-emoji', 'aria-hidden': 'true', text: emojiOf(score) }),
        el('span', { class: 'dist-label', text: labelOf(score) }),
        el('div', { class: 'dist-track' }, bar),
        el('span', { class: 'dist-count' }, el('b', { text: number.format(count) }), ` · ${Math.round(share)}%`)));
    }
    root.setAttribute('aria-label', rows.map((row) => row.title).join('; '));
    root.replaceChildren(share, caption, ...rows);
  }

  // ---- daily trend ----

  function renderLegend() {
    const max = state.survey.scale.length;
    const items = [];
    for (let score = max; score >= 1; score -= 1) {
      const swatch = el('i');
      swatch.style.background = scoreColour(score, max);
      items.push(el('span', {}, swatch, el('span', { class: 'emoji', text: emojiOf(score) })));
    }
    items.push(el('span', {}, el('i', { class: 'line' }), 'CSAT'));
    $('trend-legend').replaceChildren(...items);
  }

  /// The top of a count axis with four gridlines at round numbers (4, 8, 20, 40, 100…).
  function niceCeiling(value) {
    const quarter = Math.max(1, value / 4);
    const magnitude = 10 ** Math.floor(Math.log10(quarter));
    for (const step of [1, 2, 2.5, 5, 10]) {
      const candidate = step * magnitude;
      if (candidate >= quarter && Number.isInteger(candidate)) return candidate * 4;
    }
    return 40 * magnitude;
  }

  function renderTrend(timeseries) {
    const root = $('trend');
    state.lastTrend = timeseries;
    // A bucket under the privacy floor carries no figures: drawn as an empty day.
    const buckets = timeseries.buckets.map((bucket) => (bucket.too_few
      ? { ...bucket, responses: 0, counts: {}, csat: null }
      : bucket));
    const max = state.survey.scale.length;
    const width = Math.max(300, Math.round(root.clientWidth || 640));
    const height = width < 520 ? 200 : 240;
    const margin = { top: 12, right: 40, bottom: 26, left: 36 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const peak = niceCeiling(Math.max(0, ...buckets.map((bucket) => bucket.responses)));
    const band = plotWidth / Math.max(1, buckets.length);
    const barWidth = Math.max(1, Math.min(28, band * 0.72));
    const yCount = (count) => margin.top + plotHeight - (count / peak) * plotHeight;
    const yCsat = (csat) => margin.top + plotHeight - (csat / 100) * plotHeight;

    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height });
    for (let i = 0; i <= 4; i += 1) {
      const y = margin.top + (plotHeight * i) / 4;
      chart.append(svg('line', { class: 'grid-line', x1: margin.left, x2: width - margin.right, y1: y, y2: y }));
      chart.append(svg('text', { x: margin.left - 8, y: y + 4, 'text-anchor': 'end' }, String(Math.round(peak * (1 - i / 4)))));
      chart.append(svg('text', { x: width - margin.right + 8, y: y + 4 }, `${100 - i * 25}%`));
    }

    const labelEvery = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor(plotWidth / 64))));
    const csatPoints = [];
    buckets.forEach((bucket, index) => {
      const x = margin.left + index * band + (band - barWidth) / 2;
      let stacked = 0;
      for (let score = 1; score <= max; score += 1) {
        const count = bucket.counts[String(score)] || 0;
        if (count === 0) continue;
        const top = yCount(stacked + count);
        chart.append(svg('rect', {
          x, y: top, width: barWidth, height: Math.max(0.5, yCount(stacked) - top), rx: Math.min(3, barWidth / 3), fill: scoreColour(score, max),
        }));
        stacked += count;
      }
      if (bucket.csat !== null) csatPoints.push([margin.left + index * band + band / 2, yCsat(bucket.csat)]);
      if (index % labelEvery === 0) {
        chart.append(svg('text', { x: margin.left + index * band + band / 2, y: height - 8, 'text-anchor': 'middle' }, shortDate.format(parseDay(bucket.start))));
      }
      const day = longDate.format(parseDay(bucket.start));
      const csat = bucket.too_few ? 'too few to show'
        : bucket.csat === null ? 'no responses' : `CSAT ${percent(bucket.csat)}`;
      chart.append(svg('rect', { class: 'hover', x: margin.left + index * band, y: margin.top, width: band, height: plotHeight },
        svgTitle(`${day}: ${number.format(bucket.responses)} responses, ${csat}`)));
    });

    if (csatPoints.length > 1) {
      chart.append(svg('polyline', { class: 'csat-line', points: csatPoints.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ') }));
    }
    if (csatPoints.length <= 40) {
      for (const [x, y] of csatPoints) chart.append(svg('circle', { class: 'csat-dot', cx: x, cy: y, r: 3 }));
    }
    const total = buckets.reduce((sum, bucket) => sum + bucket.responses, 0);
    root.setAttribute('aria-label', `Responses per day: ${number.format(total)} over ${buckets.length} days, stacked by emoji, with daily CSAT as a line`);
    root.replaceChildren(chart);
  }

  // ---- breakdown ----

  function renderBreakdown(breakdown) {
    const root = $('breakdown');
    if (!breakdown) {
      root.replaceChildren(el('p', { class: 'empty', text: 'This survey has no tags to break down by.' }));
      $('min-group').textContent = '';
      return;
    }
    $('min-group').textContent = breakdown.min_group_size > 1
      ? `groups under ${breakdown.min_group_size} responses stay hidden`
      : '';
    if (breakdown.groups.length === 0) {
      root.replaceChildren(el('p', { class: 'empty', text: `No ${breakdown.by} in this range yet.` }));
      return;
    }
    const groups = [...breakdown.groups].sort((a, b) => {
      if (a.too_few !== b.too_few) return a.too_few ? 1 : -1;
      return (b.responses || 0) - (a.responses || 0) || a.value.localeCompare(b.value);
    });
    const rows = groups.map((group) => {
      if (group.too_few) {
        return el('tr', { class: 'too-few' },
          el('td', { class: 'value', text: group.value }),
          el('td', { colspan: 3, text: `Too few responses to show (under ${breakdown.min_group_size})` }));
      }
      const csatCell = el('td', { class: 'csat-cell' });
      if (group.csat === null) {
        csatCell.append(el('span', { class: 'csat-figure', text: '—' }));
      } else {
        const [lo, hi] = group.csat_ci95;
        csatCell.append(intervalBar(group.csat, lo, hi, 200, 16),
          el('span', { class: 'csat-figure', text: `${percent(group.csat)} (${percent(lo)}–${percent(hi)})` }));
      }
      return el('tr', { 'data-value': group.value },
        el('td', { class: 'value', text: group.value }),
        el('td', { class: 'num', text: number.format(group.responses) }),
        csatCell,
        el('td', { class: 'num', text: group.average === null ? '—' : decimal.format(group.average) }));
    });
    root.replaceChildren(el('table', { class: 'breakdown' },
      el('thead', {}, el('tr', {},
        el('th', { text: capitalise(breakdown.by) }),
        el('th', { class: 'num', text: 'Responses' }),
        el('th', { text: 'CSAT (95% interval)' }),
        el('th', { class: 'num', text: 'Avg' }))),
      el('tbody', {}, ...rows)));
  }

  // ---- comments ----

  const identityOf = (record) => `${record.survey}\u0000${record.interaction ?? ''}\u0000${record.interaction ? '' : record.response_id}`;

  function matchesFilters(record) {
    const day = record.created_at.slice(0, 10);
    if (day < state.from || day > state.to) return false;
    if (state.tagKey && state.tagValue && record.tags[state.tagKey] !== state.tagValue) return false;
    // A filtered group under the privacy floor shows no comment, live ones included.
    if (state.tagKey && state.tagValue && state.commentsTooFew) return false;
    return true;
  }

  /// Keeps one entry per response, newest change first.
  function addComment(record, fresh) {
    const identity = identityOf(record);
    const existing = state.comments.findIndex((entry) => entry.identity === identity);
    if (existing >= 0) {
      if (!fresh) return;
      state.comments.splice(existing, 1);
    }
    const entry = { identity, record, fresh };
    if (fresh) state.comments.unshift(entry);
    else state.comments.push(entry);
  }

  function renderComments() {
    const list = $('comments');
    const max = state.survey.scale.length;
    if (state.comments.length === 0) {
      list.replaceChildren(el('li', { class: 'empty', text: state.commentsTooFew ? tooFewText() : 'No comments in this range yet.' }));
    } else {
      list.replaceChildren(...state.comments.map(({ record, fresh }) => {
        const emoji = el('div', { class: 'comment-emoji', title: `${labelOf(record.score)} (${record.score}/${max})`, text: emojiOf(record.score) });
        const text = el('p', { class: 'comment-text' });
        text.textContent = record.comment;
        const meta = el('div', { class: 'comment-meta' },
          el('time', { datetime: record.updated_at, text: dateTime.format(new Date(record.updated_at)) }),
          ...Object.entries(record.tags).map(([key, value]) => el('span', { class: 'tag', text: `${key}: ${value}` })));
        const item = el('li', { class: fresh ? 'comment fresh' : 'comment', 'data-response': record.response_id }, emoji, el('div', {}, text, meta));
        return item;
      }));
      for (const entry of state.comments) entry.fresh = false;
    }
    $('older').hidden = state.nextBefore === null;
    $('comments-note').textContent = state.comments.length ? `${state.comments.length} shown` : '';
  }

  // ---- live feed ----
  //
  // `EventSource` can't send an Authorization header, and a key in the URL would end up in
  // server logs and history. So the feed is read with fetch() streaming, which sends the header,
  // and parsed here; on a drop it reconnects with Last-Event-ID so nothing is missed.

  function setLive(mode) {
    const live = $('live');
    live.dataset.state = mode;
    $('live-text').textContent = { on: 'Live', retry: 'Reconnecting…', off: 'Offline' }[mode];
  }

  function stopLive() {
    if (state.live) state.live.abort();
    state.live = null;
    setLive('off');
  }

  function startLive() {
    stopLive();
    const controller = new AbortController();
    state.live = controller;
    follow(state.survey.id, controller.signal);
  }

  async function follow(survey, signal) {
    let lastEventId = null;
    let pause = 1000;
    while (!signal.aborted) {
      try {
        const headers = { Authorization: `Bearer ${state.key}`, Accept: 'text/event-stream' };
        if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
        const response = await fetch(`/v1/surveys/${encodeURIComponent(survey)}/live`, { headers, signal, cache: 'no-store' });
        if (response.status === 401) {
          signOut('This key is no longer accepted. Sign in again.');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`live feed answered ${response.status}`);
        setLive('on');
        pause = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = parseEvent(block);
            if (event.id !== null) lastEventId = event.id;
            if (event.type === 'message' && event.data) onLiveResponse(JSON.parse(event.data));
          }
        }
      } catch (error) {
        if (signal.aborted) return;
      }
      if (signal.aborted) return;
      setLive('retry');
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 30000);
    }
  }

  /// One Server-Sent Events block, per the HTML standard's field rules.
  function parseEvent(block) {
    const event = { id: null, type: 'message', data: '' };
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') event.id = value;
      else if (field === 'event') event.type = value;
      else if (field === 'data') data.push(value);
    }
    event.data = data.join('\n');
    return event;
  }

  function onLiveResponse(record) {
    if (!state.survey || record.survey !== state.survey.id) return;
    followToday();
    if (record.comment && record.comment.trim() && matchesFilters(record)) {
      addComment(record, true);
      renderComments();
    }
    const tags = Object.entries(record.tags).map(([key, value]) => `${key} ${value}`).join(', ');
    toast(el('span', { class: 'emoji', text: emojiOf(record.score) }),
      ` New response: ${labelOf(record.score)}${tags ? ` · ${tags}` : ''}`);
    refreshSoon();
  }

  /// A dashboard left open on "last 7 days" past midnight (UTC) moves on with the calendar, or
  /// today's responses would fall outside its range.
  function followToday() {
    const preset = document.querySelector('.chip[aria-pressed="true"]');
    const now = today();
    if (preset && state.to !== now) setRange(daysBefore(now, Number(preset.dataset.days) - 1), now);
  }

  let toastTimer = null;
  function toast(...parts) {
    const node = $('toast');
    node.replaceChildren(...parts);
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 3500);
  }

  // ---- export ----
  //
  // The download needs the Authorization header too, so it is fetched and handed to the browser
  // as a file rather than linked.

  async function download(format) {
    const button = $(`export-${format}`);
    button.disabled = true;
    try {
      const response = await fetch(surveyPath('responses', { format, from: state.from, to: state.to }), {
        headers: { Authorization: `Bearer ${state.key}` },
        cache: 'no-store',
      });
      if (!response.ok) throw new Error(`The export failed (${response.status}).`);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = el('a', { href: url, download: `pulsetap-${state.survey.id}-${state.from}-to-${state.to}.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      showError(error.message);
    } finally {
      button.disabled = false;
    }
  }

  // ---- wiring ----

  function plural(count, one, many) {
    return `${number.format(count)} ${count === 1 ? one : many}`;
  }

  function capitalise(text) {
    return text ? text[0].toUpperCase() + text.slice(1) : text;
  }

  function onRangeChange() {
    loadTagValues().catch(() => {});
    refreshAll();
  }

  function init() {
    applyTheme(localStorage.getItem(THEME) || 'auto');
    $('theme').addEventListener('click', () => {
      const current = document.documentElement.dataset.theme;
      const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
      localStorage.setItem(THEME, next);
      applyTheme(next);
    });

    $('signin-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const key = $('key').value.trim();
      const error = $('signin-error');
      error.hidden = true;
      try {
        await signIn(key);
      } catch (failure) {
        if (failure instanceof SignedOut) {
          $('signin-error').textContent = 'That key is not valid.';
          $('signin-error').hidden = false;
        } else {
          error.textContent = failure.message;
          error.hidden = false;
        }
      }
    });
    $('signout').addEventListener('click', () => signOut(''));
    $('survey').addEventListener('change', (event) => selectSurvey(event.target.value));

    for (const chip of document.querySelectorAll('.chip')) {
      chip.addEventListener('click', () => {
        const to = today();
        setRange(daysBefore(to, Number(chip.dataset.days) - 1), to);
        onRangeChange();
      });
    }
    for (const id of ['from', 'to']) {
      $(id).addEventListener('change', () => {
        const from = $('from').value;
        const to = $('to').value;
        if (!from || !to || from > to) return;
        setRange(from, to);
        onRangeChange();
      });
    }
    $('tag-key').addEventListener('change', (event) => {
      state.tagKey = event.target.value;
      state.tagValue = '';
      loadTagValues().catch(() => {});
      refreshAll();
    });
    $('tag-value').addEventListener('change', (event) => {
      state.tagValue = event.target.value;
      refreshAll();
    });
    $('group-by').addEventListener('change', (event) => {
      state.groupBy = event.target.value;
      refreshFigures();
    });
    $('older').addEventListener('click', () => loadComments(true));
    $('export-csv').addEventListener('click', () => download('csv'));
    $('export-ndjson').addEventListener('click', () => download('ndjson'));
    $('filters').addEventListener('submit', (event) => event.preventDefault());

    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (state.lastTrend) renderTrend(state.lastTrend); }, 150);
    });

    const to = today();
    setRange(daysBefore(to, 29), to);

    const key = sessionStorage.getItem(KEY);
    if (key) {
      signIn(key).catch((error) => {
        if (!(error instanceof SignedOut)) signOut(error.message);
      });
    } else {
      signOut('');
    }
  }

  init();
})();
