import { h } from '../dom.ts'

export interface Kpis {
  readonly element: HTMLElement
  set(name: string, value: string, detail?: string): void
}

/** A row of headline figures, each a term and its value. */
export function kpis(names: readonly { key: string; label: string }[]): Kpis {
  const values = new Map<string, { value: HTMLElement; detail: HTMLElement }>()
  const element = h(
    'dl',
    { class: 'kpis' },
    names.map(({ key, label }) => {
      const value = h('dd', { class: 'kpi-value', 'data-kpi': key }, '…')
      const detail = h('dd', { class: 'kpi-detail' })
      values.set(key, { value, detail })
      return h('div', { class: 'kpi' }, h('dt', {}, label), value, detail)
    }),
  )
  return {
    element,
    set(name, value, detail = '') {
      const slot = values.get(name)
      if (!slot) return
      slot.value.textContent = value
      slot.detail.textContent = detail
    },
  }
}
