// Periods as the reporting API names them: `2026`, `2026-Q3`, `2026-09`.

export function periodOf(granularity, date) {
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth() + 1;
  if (granularity === "year") return String(year);
  if (granularity === "quarter") return `${year}-Q${Math.ceil(month / 3)}`;
  return `${year}-${String(month).padStart(2, "0")}`;
}

export function previousPeriod(label) {
  let match = /^(\d{4})-Q([1-4])$/.exec(label);
  if (match) {
    const [year, quarter] = [Number(match[1]), Number(match[2])];
    return quarter === 1 ? `${year - 1}-Q4` : `${year}-Q${quarter - 1}`;
  }
  match = /^(\d{4})-(\d{2})$/.exec(label);
  if (match) {
    const [year, month] = [Number(match[1]), Number(match[2])];
    return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, "0")}`;
  }
  return String(Number(label) - 1);
}

/** The `count` periods up to `label`, oldest first. */
export function periodsUntil(label, count) {
  const found = [label];
  while (found.length < count) found.unshift(previousPeriod(found[0]));
  return found;
}

export function granularityOf(label) {
  if (/-Q[1-4]$/.test(label)) return "quarter";
  if (/^\d{4}-\d{2}$/.test(label)) return "month";
  return "year";
}
