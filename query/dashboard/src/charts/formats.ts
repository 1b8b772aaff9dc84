const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 })
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 })

export const formatNumber = (value: number) =>
  Number.isInteger(value) ? integer.format(value) : decimal.format(value)
export const formatCompact = (value: number) => compact.format(value)

/** Twenty colours that stay apart from each other on white, for up to twenty series. */
export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#ea580c',
  '#4f46e5',
  '#0d9488',
  '#b91c1c',
  '#9333ea',
  '#ca8a04',
  '#0284c7',
  '#be185d',
  '#15803d',
  '#c2410c',
  '#475569',
  '#854d0e',
] as const

export const colorAt = (index: number) => PALETTE[index % PALETTE.length]!
