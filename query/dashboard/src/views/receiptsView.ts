import type { ReceiptAnalytics } from '../api.ts'
import { barList } from '../charts/barList.ts'
import { dataTable } from '../charts/dataTable.ts'
import { formatNumber } from '../charts/formats.ts'
import { timeChart } from '../charts/timeChart.ts'
import { h, notice, replaceChildren } from '../dom.ts'
import { hourSlots, type TimeRange } from '../timeRange.ts'
import { kpis } from './kpis.ts'
import type { ViewDefinition } from './view.ts'

const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const formatMoney = (value: number) => money.format(value)

type Hour = ReceiptAnalytics['hours'][number]

function hourly(range: TimeRange, analytics: ReceiptAnalytics, values: ((hour: Hour) => number | null)[]) {
  const x = hourSlots(range)
  const index = new Map(x.map((s, i) => [s, i]))
  // Purchases and sums are 0 in an hour without receipts; an average has no value there.
  const y = values.map(() => new Array<number | null>(x.length).fill(null))
  for (const hour of analytics.hours) {
    const i = index.get(Date.parse(hour.hour) / 1000)
    if (i === undefined) continue
    values.forEach((value, s) => {
      y[s]![i] = value(hour)
    })
  }
  return { x, y }
}
const zeroFilled = (series: (number | null)[][]) => series.map((ys) => ys.map((v) => v ?? 0))

/** Receipts of a place (seed 003): purchases, average receipt, VAT and tips over time, revenue by category. */
export const receiptsView: ViewDefinition = {
  id: 'receipts',
  label: 'Receipts',
  kinds: ['place', 'store'],
  live: true,
  mount(container, { api, source, range, zone }) {
    const figures = kpis([
      { key: 'purchases', label: 'Purchases' },
      { key: 'revenue', label: 'Revenue' },
      { key: 'average', label: 'Average receipt' },
      { key: 'tax', label: 'VAT (NDS)' },
      { key: 'tips', label: 'Tips' },
    ])
    const purchases = timeChart({
      title: 'Purchases per hour',
      unit: 'purchases',
      series: [{ label: 'purchases', area: true, width: 2 }],
    })
    const average = timeChart({
      title: 'Average receipt per hour',
      unit: 'amount',
      series: [{ label: 'average receipt', color: '#7c3aed', width: 2 }],
      format: formatMoney,
    })
    const taxTips = timeChart({
      title: 'VAT and tips per hour',
      unit: 'amount',
      series: [
        { label: 'VAT (NDS)', color: '#d97706', width: 2 },
        { label: 'tips', color: '#16a34a', width: 2 },
      ],
      format: formatMoney,
    })
    const categories = barList('Revenue by category', { value: 'revenue', extra: ['units sold'] })
    const places = h('div', {})
    const status = h('div', {})
    replaceChildren(
      container,
      h('h2', {}, 'Receipts'),
      status,
      figures.element,
      h('div', { class: 'grid-2' }, purchases.element, average.element),
      h('div', { class: 'grid-2' }, taxTips.element, categories.element),
      places,
    )
    return {
      async refresh() {
        const r = range()
        const analytics = await api.receiptAnalytics(source.id, { from: r.from, to: r.to })
        const z = zone()
        const t = analytics.totals
        figures.set('purchases', formatNumber(t.purchases))
        figures.set('revenue', formatMoney(Number(t.revenue)))
        figures.set('average', formatMoney(Number(t.averageReceipt)))
        figures.set('tax', formatMoney(Number(t.nds)))
        figures.set('tips', formatMoney(Number(t.tips)))
        const counts = hourly(r, analytics, [(hr) => hr.purchases])
        purchases.update({ x: counts.x, y: zeroFilled(counts.y) }, z)
        average.update(
          hourly(r, analytics, [(hr) => (hr.purchases > 0 ? Number(hr.averageReceipt) : null)]),
          z,
        )
        const sums = hourly(r, analytics, [(hr) => Number(hr.nds), (hr) => Number(hr.tips)])
        taxTips.update({ x: sums.x, y: zeroFilled(sums.y) }, z)
        categories.update(
          [...analytics.categories]
            .sort((a, b) => Number(b.revenue) - Number(a.revenue))
            .map((c) => ({
              label: c.category,
              value: Number(c.revenue),
              display: formatMoney(Number(c.revenue)),
              extra: [formatNumber(c.items)],
            })),
        )
        replaceChildren(
          places,
          analytics.places.length === 0
            ? null
            : dataTable(
                'Places',
                [
                  {
                    label: 'Place',
                    value: (p: ReceiptAnalytics['places'][number]) => `${p.placeName} (${p.placeId})`,
                  },
                  { label: 'Purchases', numeric: true, value: (p) => formatNumber(p.purchases) },
                  { label: 'Revenue', numeric: true, value: (p) => formatMoney(Number(p.revenue)) },
                  {
                    label: 'Average receipt',
                    numeric: true,
                    value: (p) => formatMoney(Number(p.averageReceipt)),
                  },
                  { label: 'VAT', numeric: true, value: (p) => formatMoney(Number(p.nds)) },
                  { label: 'Tips', numeric: true, value: (p) => formatMoney(Number(p.tips)) },
                ],
                analytics.places,
              ),
        )
        replaceChildren(status, t.purchases === 0 ? notice('No receipts in this range yet.') : null)
      },
      destroy() {
        purchases.destroy()
        average.destroy()
        taxTips.destroy()
      },
    }
  },
}
