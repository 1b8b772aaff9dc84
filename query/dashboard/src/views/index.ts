import { appStatsView } from './appStatsView.ts'
import { devicesView } from './devicesView.ts'
import { explorerView } from './explorerView.ts'
import { overviewView } from './overviewView.ts'
import { receiptsView } from './receiptsView.ts'
import { storeView } from './storeView.ts'
import type { ViewDefinition } from './view.ts'

/** Every view, in tab order. A new view is one more entry here. */
export const views: readonly ViewDefinition[] = [
  overviewView,
  appStatsView,
  storeView,
  receiptsView,
  devicesView,
  explorerView,
]
