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
    // The survey's tags, and its language when it speaks more than one: what reads filter and
    // break down by.
    const dimensions = [...state.survey.tags, ...((state.survey.languages || []).length > 1 ? ['lang'] : [])];
    state.groupBy = dimensions.includes('agent') ? 'agent' : dimensions[0] || '';
    $('question').textContent = state.survey.question;

    const tagKey = $('tag-key');
    tagKey.replaceChildren(
      el('option', { value: '', text: 'Everyone' }),
      ...dimensions.map((tag) => el('option', { value: tag, text: capitalise(dimensionName(tag)) })),
    );
    tagKey.value = '';
    $('tag-key-field').hidden = dimensions.length === 0;
    $('tag-value-field').hidden = true;

    const groupBy = $('group-by');
    groupBy.replaceChildren(...dimensions.map((tag) => el('option', { value: tag, text: dimensionName(tag) })));
    groupBy.value = state.groupBy;
    groupBy.hidden = dimensions.length === 0;
    $('group-by-label').textContent = dimensions.length === 0 ? 'Breakdown' : 'By';

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
    $('tag-value-label').textContent = capitalise(dimensionName(state.tagKey));
    const breakdown = await api(surveyPath('breakdown', { by: state.tagKey, from: state.from, to: state.to }));
    const values = breakdown.groups.map((group) => group.value);
    if (state.tagValue && !values.includes(state.tagValue)) values.push(state.tagValue);
    select.replaceChildren(
      el('option', { value: '', text: `Any ${dimensionName(state.tagKey)}` }),
      ...values.sort().map((value) => el('option', { value, text: valueName(state.tagKey, value) })),
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

  // ---- what the survey measures, scores and colours ----
  //
  // A survey's kind decides its figure (CSAT, NPS or the share of easy answers, each with its
  // 95% interval), the range that figure lives in, and how its scores group and colour.

  const signed = (value) => `${value > 0 ? '+' : value < 0 ? '−' : ''}${Math.abs(Math.round(value))}`;
  const KINDS = {
    csat: {
      name: 'CSAT', figure: 'csat', domain: [0, 100], format: percent,
      line: 'daily CSAT',
    },
    nps: {
      name: 'NPS', figure: 'nps', domain: [-100, 100], format: signed,
      line: 'daily NPS',
    },
    ces: {
      name: 'Easy', figure: 'easy', domain: [0, 100], format: percent,
      line: 'daily share of easy answers',
    },
  };
  const kind = () => KINDS[state.survey.kind] || KINDS.csat;
  const numbered = () => state.survey.kind === 'nps' || state.survey.kind === 'ces';
  const figureOf = (figures) => figures[kind().figure] ?? null;
  const intervalOf = (figures) => figures[`${kind().figure}_ci95`] ?? null;
  const firstScore = () => state.survey.first_score ?? 1;
  const lastScore = () => firstScore() + state.survey.scale.length - 1;
  /// Every score of the survey, highest first.
  const scoresDown = () => Array.from({ length: state.survey.scale.length }, (_, i) => lastScore() - i);

  /// NPS's three groups, as its figures count them.
  const NPS_GROUPS = [
    { key: 'promoters', name: 'Promoters', scores: '9–10', colour: '#10b981', from: 9, to: 10 },
    { key: 'passives', name: 'Passives', scores: '7–8', colour: '#f5b83d', from: 7, to: 8 },
    { key: 'detractors', name: 'Detractors', scores: '0–6', colour: '#e5484d', from: 0, to: 6 },
  ];
  const npsGroupOf = (score) => NPS_GROUPS.find((group) => score >= group.from && score <= group.to);

  /// Red for the worst answer through amber to green for the best, for any scale; NPS colours by
  /// its group.
  const PALETTE = ['#e5484d', '#f97316', '#facc15', '#84cc16', '#10b981'];
  function scoreColour(score) {
    if (state.survey.kind === 'nps') return npsGroupOf(score).colour;
    const steps = lastScore() - firstScore();
    const position = steps <= 0 ? 1 : (score - firstScore()) / steps;
    return PALETTE[Math.round(position * (PALETTE.length - 1))];
  }

  const faceOf = (score) => state.survey.scale[score - firstScore()] ?? String(score);
  const labelOf = (score) => state.survey.labels[score - firstScore()] ?? String(score);
  /// What shows a score: its emoji, or its number in a badge of its colour.
  function scoreBadge(score, className) {
    if (!numbered()) return el('span', { class: `${className} emoji`, 'aria-hidden': 'true', text: faceOf(score) });
    const badge = el('span', { class: `${className} score-badge`, 'aria-hidden': 'true', text: String(score) });
    badge.style.setProperty('--score', scoreColour(score));
    return badge;
  }
  /// What a score's row says beside its number: NPS's group at the top of each group, CES's
  /// words at its two ends.
  function rowLabel(score) {
    if (state.survey.kind === 'nps') {
      const group = npsGroupOf(score);
      return score === group.to ? group.name : '';
    }
    if (state.survey.kind === 'ces') {
      if (score === firstScore()) return state.survey.low_label;
      if (score === lastScore()) return state.survey.high_label;
      return '';
    }
    return labelOf(score);
  }
  /// A score as a sentence says it: "Great", "9 (a promoter)", "2 of 7".
  function describeScore(score) {
    if (state.survey.kind === 'nps') return `${score} (a ${npsGroupOf(score).name.toLowerCase().replace(/s$/, '')})`;
    if (state.survey.kind === 'ces') return `${score} of ${lastScore()}`;
    return labelOf(score);
  }

  // ---- key figures ----

  /// Why a group filtered by a tag value shows no figures (the collector's privacy floor).
  const tooFewText = () => `Too few responses to show (under ${state.survey.min_group_size}), so no customer can be singled out.`;

  function renderSummary(summary) {
    if (summary.too_few) {
      for (const id of ['kpi-responses', 'kpi-rate', 'kpi-figure', 'kpi-average']) $(id).textContent = '—';
      $('kpi-impressions').textContent = tooFewText();
      for (const id of ['kpi-rate-note', 'kpi-figure-note', 'kpi-average-emoji', 'kpi-average-note']) $(id).textContent = '';
      $('kpi-figure-interval').replaceChildren();
      $('kpi-figure-name').textContent = kind().name;
      $('kpi-groups').replaceChildren();
      $('kpi-groups').hidden = true;
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

    const interval = $('kpi-figure-interval');
    const value = figureOf(summary);
    $('kpi-figure-name').textContent = kind().name;
    if (value === null) {
      $('kpi-figure').textContent = '—';
      $('kpi-figure-note').textContent = 'no responses yet';
      interval.replaceChildren();
    } else {
      const [lo, hi] = intervalOf(summary);
      const format = kind().format;
      $('kpi-figure').textContent = format(value);
      const meaning = {
        csat: ` · ${labelOf(state.survey.satisfied_min)} or better`,
        ces: ` · answered ${state.survey.satisfied_min} or above`,
      }[state.survey.kind] || '';
      $('kpi-figure-note').textContent = `95% interval ${format(lo)} to ${format(hi)}${meaning}`;
      // NPS is % promoters − % detractors: the groups under it show both.
      $('kpi-figure').title = state.survey.kind === 'nps' ? '% promoters − % detractors' : '';
      interval.replaceChildren(intervalBar(value, lo, hi, 240, 14));
    }
    renderGroups(summary);

    const average = $('kpi-average-emoji');
    if (summary.average === null) {
      $('kpi-average').textContent = '—';
      average.textContent = '';
      $('kpi-average-note').textContent = '';
    } else {
      $('kpi-average').textContent = decimal.format(summary.average);
      average.textContent = numbered() ? '' : faceOf(Math.min(lastScore(), Math.max(firstScore(), Math.round(summary.average))));
      $('kpi-average-note').textContent = {
        nps: `out of ${lastScore()} · likely to recommend`,
        ces: `out of ${lastScore()} · ${state.survey.low_label ? `1 is ${state.survey.low_label.toLowerCase()}` : 'average effort'}`,
      }[state.survey.kind] || `out of ${lastScore()}`;
    }
  }

  /// NPS's three groups as one stacked bar, with their counts: who makes the score.
  function renderGroups(summary) {
    const root = $('kpi-groups');
    if (state.survey.kind !== 'nps' || !summary.responses) {
      root.replaceChildren();
      root.hidden = true;
      return;
    }
    const bar = el('div', { class: 'groups-bar' });
    const legend = el('ul', { class: 'groups-legend' });
    for (const group of [...NPS_GROUPS].reverse()) {
      const count = summary[group.key] || 0;
      const share = (100 * count) / summary.responses;
      if (count > 0) {
        const part = el('span', { title: `${group.name} (${group.scores}): ${number.format(count)}` });
        part.style.flexGrow = String(count);
        part.style.background = group.colour;
        bar.append(part);
      }
      const swatch = el('i');
      swatch.style.background = group.colour;
      legend.append(el('li', {}, swatch, `${group.name} `, el('b', { text: number.format(count) }), el('span', { class: 'muted', text: ` ${percent(share)}` })));
    }
    const label = NPS_GROUPS.map((group) => `${group.name} ${number.format(summary[group.key] || 0)}`).join(', ');
    root.replaceChildren(el('div', { role: 'img', 'aria-label': label }, bar), legend);
    root.hidden = false;
  }

  /// A track over the figure's whole range (0–100, or −100–100 for NPS, with a tick at 0) with
  /// the 95% interval as a band and the estimate as a dot.
  function intervalBar(value, lo, hi, width, height) {
    const [min, max] = kind().domain;
    const format = kind().format;
    const x = (v) => ((Math.max(min, Math.min(max, v)) - min) / (max - min)) * width;
    const mid = height / 2;
    const zero = min < 0 ? svg('rect', { class: 'interval-zero', x: x(0) - 0.5, y: mid - 6, width: 1, height: 12 }) : null;
    return svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${kind().name} ${format(value)}, 95% interval ${format(lo)} to ${format(hi)}` },
      svgTitle(`${format(value)} (95% interval ${format(lo)} to ${format(hi)})`),
      svg('rect', { class: 'interval-track', x: 0, y: mid - 3, width, height: 6, rx: 3 }),
      zero,
      svg('rect', { class: 'interval-band', x: x(lo), y: mid - 5, width: Math.max(2, x(hi) - x(lo)), height: 10, rx: 5 }),
      svg('rect', { class: 'interval-point', x: x(value) - 2, y: 0, width: 4, height, rx: 2 }));
  }

  // ---- emoji distribution ----

  function renderDistribution(summary) {
    const root = $('distribution');
    $('distribution-title').textContent = { nps: 'Likelihood to recommend', ces: 'How easy it was' }[state.survey.kind] || 'How customers felt';
    if (summary.too_few) {
      root.replaceChildren(el('p', { class: 'empty', text: tooFewText() }));
      return;
    }
    if (summary.responses === 0) {
      root.replaceChildren(el('p', { class: 'empty', text: 'No responses in this range yet.' }));
      return;
    }
    // One bar of the whole range, lowest to highest, above the per-score rows.
    const share = el('div', { class: 'share', 'aria-hidden': 'true' });
    for (const score of scoresDown().reverse()) {
      const count = summary.counts[String(score)] || 0;
      if (count === 0) continue;
      const part = el('span', { title: `${labelOf(score)}: ${number.format(count)}` });
      part.style.flexGrow = String(count);
      part.style.background = scoreColour(score);
      share.append(part);
    }
    const good = Object.entries(summary.counts)
      .filter(([score]) => Number(score) >= state.survey.satisfied_min)
      .reduce((sum, [, count]) => sum + count, 0);
    const [below, above] = {
      nps: ['detractors and passives', 'promoters'],
      ces: [`below ${state.survey.satisfied_min}`, `${state.survey.satisfied_min} or above`],
    }[state.survey.kind] || [`below ${labelOf(state.survey.satisfied_min)}`, `${labelOf(state.survey.satisfied_min)} or better`];
    const caption = el('p', { class: 'share-caption' },
      el('span', { text: `${percent((100 * (summary.responses - good)) / summary.responses)} ${below}` }),
      el('span', { text: `${percent((100 * good) / summary.responses)} ${above}` }));
    // NPS's groups already show as one bar under the score: its rows stand alone.
    const summaryBar = state.survey.kind === 'nps' ? [] : [share, caption];
    const rows = [];
    for (const score of scoresDown()) {
      const count = summary.counts[String(score)] || 0;
      const share = (count / summary.responses) * 100;
      const bar = el('div', { class: 'dist-bar' });
      bar.style.width = `${share}%`;
      bar.style.background = scoreColour(score);
      rows.push(el('div', { class: numbered() ? 'dist-row compact' : 'dist-row', title: `${labelOf(score)}: ${number.format(count)} (${share.toFixed(1)}%)` },
        scoreBadge(score, 'dist-emoji'),
        el('span', { class: 'dist-label', text: rowLabel(score) }),
        el('div', { class: 'dist-track' }, bar),
        el('span', { class: 'dist-count' }, el('b', { text: number.format(count) }), ` · ${Math.round(share)}%`)));
    }
    root.setAttribute('aria-label', rows.map((row) => row.title).join('; '));
    root.replaceChildren(...summaryBar, ...rows);
  }

  // ---- daily trend ----

  function renderLegend() {
    const items = [];
    if (state.survey.kind === 'nps') {
      for (const group of NPS_GROUPS) {
        const swatch = el('i');
        swatch.style.background = group.colour;
        items.push(el('span', {}, swatch, group.name));
      }
    } else {
      for (const score of scoresDown()) {
        const swatch = el('i');
        swatch.style.background = scoreColour(score);
        items.push(el('span', {}, swatch, numbered() ? String(score) : el('span', { class: 'emoji', text: faceOf(score) })));
      }
    }
    items.push(el('span', {}, el('i', { class: 'line' }), kind().name));
    $('trend-legend').replaceChildren(...items);
    $('trend').setAttribute('aria-label', `Responses per day and ${kind().line}`);
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
      ? { ...bucket, responses: 0, counts: {}, [kind().figure]: null, promoters: 0, passives: 0, detractors: 0 }
      : bucket));
    const [low, high] = kind().domain;
    const width = Math.max(300, Math.round(root.clientWidth || 640));
    const height = width < 520 ? 200 : 240;
    const margin = { top: 12, right: 40, bottom: 26, left: 36 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const peak = niceCeiling(Math.max(0, ...buckets.map((bucket) => bucket.responses)));
    const band = plotWidth / Math.max(1, buckets.length);
    const barWidth = Math.max(1, Math.min(28, band * 0.72));
    const yCount = (count) => margin.top + plotHeight - (count / peak) * plotHeight;
    const yFigure = (value) => margin.top + plotHeight - ((value - low) / (high - low)) * plotHeight;

    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height });
    for (let i = 0; i <= 4; i += 1) {
      const y = margin.top + (plotHeight * i) / 4;
      chart.append(svg('line', { class: 'grid-line', x1: margin.left, x2: width - margin.right, y1: y, y2: y }));
      chart.append(svg('text', { x: margin.left - 8, y: y + 4, 'text-anchor': 'end' }, String(Math.round(peak * (1 - i / 4)))));
      const tick = high - ((high - low) * i) / 4;
      chart.append(svg('text', { x: width - margin.right + 8, y: y + 4 }, low < 0 ? signed(tick) : `${tick}%`));
    }

    const labelEvery = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor(plotWidth / 64))));
    const points = [];
    buckets.forEach((bucket, index) => {
      const x = margin.left + index * band + (band - barWidth) / 2;
      let stacked = 0;
      // NPS stacks its three groups (detractors at the bottom); other kinds each score.
      const segments = state.survey.kind === 'nps'
        ? [...NPS_GROUPS].reverse().map((group) => [bucket[group.key] || 0, group.colour])
        : scoresDown().reverse().map((score) => [bucket.counts[String(score)] || 0, scoreColour(score)]);
      for (const [count, colour] of segments) {
        if (count === 0) continue;
        const top = yCount(stacked + count);
        chart.append(svg('rect', {
          x, y: top, width: barWidth, height: Math.max(0.5, yCount(stacked) - top), rx: Math.min(3, barWidth / 3), fill: colour,
        }));
        stacked += count;
      }
      const value = figureOf(bucket);
      if (value !== null) points.push([margin.left + index * band + band / 2, yFigure(value)]);
      if (index % labelEvery === 0) {
        chart.append(svg('text', { x: margin.left + index * band + band / 2, y: height - 8, 'text-anchor': 'middle' }, shortDate.format(parseDay(bucket.start))));
      }
      const day = longDate.format(parseDay(bucket.start));
      const figure = bucket.too_few ? 'too few to show'
        : value === null ? 'no responses' : `${kind().name} ${kind().format(value)}`;
      chart.append(svg('rect', { class: 'hover', x: margin.left + index * band, y: margin.top, width: band, height: plotHeight },
        svgTitle(`${day}: ${number.format(bucket.responses)} responses, ${figure}`)));
    });

    if (points.length > 1) {
      chart.append(svg('polyline', { class: 'figure-line', points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ') }));
    }
    if (points.length <= 40) {
      for (const [x, y] of points) chart.append(svg('circle', { class: 'figure-dot', cx: x, cy: y, r: 3 }));
    }
    const total = buckets.reduce((sum, bucket) => sum + bucket.responses, 0);
    const stackedBy = { nps: 'promoters, passives and detractors', ces: 'score' }[state.survey.kind] || 'emoji';
    root.setAttribute('aria-label', `Responses per day: ${number.format(total)} over ${buckets.length} days, stacked by ${stackedBy}, with ${kind().line} as a line`);
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
      root.replaceChildren(el('p', { class: 'empty', text: `No ${dimensionName(breakdown.by)} in this range yet.` }));
      return;
    }
    const groups = [...breakdown.groups].sort((a, b) => {
      if (a.too_few !== b.too_few) return a.too_few ? 1 : -1;
      return (b.responses || 0) - (a.responses || 0) || a.value.localeCompare(b.value);
    });
    const rows = groups.map((group) => {
      if (group.too_few) {
        return el('tr', { class: 'too-few' },
          el('td', { class: 'value', text: valueName(breakdown.by, group.value) }),
          el('td', { colspan: 3, text: `Too few responses to show (under ${breakdown.min_group_size})` }));
      }
      const figureCell = el('td', { class: 'figure-cell' });
      const value = figureOf(group);
      if (value === null) {
        figureCell.append(el('span', { class: 'figure-text', text: '—' }));
      } else {
        const [lo, hi] = intervalOf(group);
        const format = kind().format;
        figureCell.append(intervalBar(value, lo, hi, 200, 16),
          el('span', { class: 'figure-text', text: `${format(value)} (${format(lo)} to ${format(hi)})` }));
      }
      return el('tr', { 'data-value': group.value },
        el('td', { class: 'value', text: valueName(breakdown.by, group.value) }),
        el('td', { class: 'num', text: number.format(group.responses) }),
        figureCell,
        el('td', { class: 'num', text: group.average === null ? '—' : decimal.format(group.average) }));
    });
    root.replaceChildren(el('table', { class: 'breakdown' },
      el('thead', {}, el('tr', {},
        el('th', { text: capitalise(dimensionName(breakdown.by)) }),
        el('th', { class: 'num', text: 'Responses' }),
        el('th', { text: `${kind().name} (95% interval)` }),
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
    if (state.comments.length === 0) {
      list.replaceChildren(el('li', { class: 'empty', text: state.commentsTooFew ? tooFewText() : 'No comments in this range yet.' }));
    } else {
      list.replaceChildren(...state.comments.map(({ record, fresh }) => {
        const emoji = el('div', { class: 'comment-emoji', title: `${labelOf(record.score)} (${record.score}/${lastScore()})` }, scoreBadge(record.score, 'comment-face'));
        // A comment in Arabic or Hebrew reads right to left whatever the page's language.
        const text = el('p', { class: 'comment-text', dir: 'auto' });
        text.textContent = record.comment;
        const meta = el('div', { class: 'comment-meta' },
          el('time', { datetime: record.updated_at, text: dateTime.format(new Date(record.updated_at)) }),
          ...Object.entries(record.tags).map(([key, value]) => el('span', { class: 'tag', text: `${key}: ${value}` })),
          // The language it was answered in, when the survey speaks more than one.
          (state.survey.languages || []).length > 1 && record.lang
            ? el('span', { class: 'tag', text: valueName('lang', record.lang) })
            : null);
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
    toast(scoreBadge(record.score, 'toast-face'),
      ` New response: ${describeScore(record.score)}${tags ? ` · ${tags}` : ''}`);
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

  /// A tag key as the page names it; `lang` is the language responses were given in.
  function dimensionName(key) {
    return key === 'lang' ? 'language' : key;
  }

  /// A tag value as the page shows it: a language by its name in the reader's language too.
  const languageNames = typeof Intl.DisplayNames === 'function'
    ? new Intl.DisplayNames(undefined, { type: 'language' })
    : null;
  function valueName(key, value) {
    if (key !== 'lang' || !languageNames) return value;
    try {
      return `${languageNames.of(value)} (${value})`;
    } catch (_) {
      return value;
    }
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
