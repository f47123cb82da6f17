// Just enough of blessed-contrib's types for the off-screen line chart.
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';
  export interface LineData { title: string; x: string[]; y: number[]; style?: { line?: string } }
  export interface LineOptions extends Widgets.BoxOptions {
    style?: { line?: string; text?: string; baseline?: string };
    xLabelPadding?: number;
    xPadding?: number;
    showLegend?: boolean;
    wholeNumbersOnly?: boolean;
    minY?: number;
    numYLabels?: number;
  }
  export interface LineWidget extends Widgets.BoxElement { setData(data: LineData[]): void }
  const contrib: { line(o: LineOptions): LineWidget };
  export default contrib;
}
