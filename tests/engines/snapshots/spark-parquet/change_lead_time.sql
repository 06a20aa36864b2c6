SELECT
  `t13`.`grp`,
  `t13`.`n`,
  `t13`.`mean_s`,
  `t13`.`negative`,
  ELEMENT_AT(`t13`.`qs`, 0 + 1) AS `median_s`,
  ELEMENT_AT(`t13`.`qs`, 1 + 1) AS `p75_s`,
  ELEMENT_AT(`t13`.`qs`, 2 + 1) AS `p90_s`
FROM (
  SELECT
    `t12`.`grp`,
    COUNT(`t12`.`x`) AS `n`,
    AVG(`t12`.`x`) AS `mean_s`,
    SUM(`t12`.`neg`) AS `negative`,
    PERCENTILE(`t12`.`x`, ARRAY(0.5, 0.75, 0.9)) AS `qs`
  FROM (
    SELECT
      `t11`.`grp`,
      CASE
        WHEN (
          COALESCE(`t5`.`first_commit_at`, `t5`.`opened_at`, `t5`.`merged_at`) IS NULL
        )
        OR (
          `t11`.`deployed` IS NULL
        )
        THEN CAST(NULL AS DOUBLE)
        WHEN (
          DATEDIFF(
            MICROSECOND,
            COALESCE(`t5`.`first_commit_at`, `t5`.`opened_at`, `t5`.`merged_at`),
            `t11`.`deployed`
          ) / 1000000
        ) < 0
        THEN CAST(NULL AS DOUBLE)
        WHEN (
          DATEDIFF(
            MICROSECOND,
            COALESCE(`t5`.`first_commit_at`, `t5`.`opened_at`, `t5`.`merged_at`),
            `t11`.`deployed`
          ) / 1000000
        ) = 0
        THEN 0.0
        ELSE DATEDIFF(
          MICROSECOND,
          COALESCE(`t5`.`first_commit_at`, `t5`.`opened_at`, `t5`.`merged_at`),
          `t11`.`deployed`
        ) / 1000000
      END AS `x`,
      CASE
        WHEN `t11`.`deployed` < COALESCE(`t5`.`first_commit_at`, `t5`.`opened_at`, `t5`.`merged_at`)
        THEN 1
        ELSE 0
      END AS `neg`
    FROM (
      SELECT
        *
      FROM `headway_changes` AS `t0`
      WHERE
        TRUE
    ) AS `t5`
    INNER JOIN (
      SELECT
        'organisation' AS `grp`,
        `t9`.`id` AS `dep_id`,
        `t9`.`finished_at` AS `deployed`,
        `t9`.`service` AS `dep_service`,
        COALESCE(`t9`.`started_at`, `t9`.`finished_at`) AS `dep_t`
      FROM (
        SELECT
          `t8`.`id`,
          `t8`.`service`,
          `t8`.`started_at`,
          `t8`.`finished_at`,
          `t7`.`s_name`,
          `t7`.`s_team`,
          `t7`.`s_context`
        FROM (
          SELECT
            `t1`.`id`,
            `t1`.`service`,
            `t1`.`started_at`,
            `t1`.`finished_at`
          FROM `headway_deployments` AS `t1`
          WHERE
            `t1`.`status` IN ('success')
            AND `t1`.`kind` IN ('deploy', 'hotfix', 'rollback', 'release')
            AND `t1`.`environment` IN ('production')
            AND `t1`.`finished_at` >= CAST('2026-09-02T00:00:00' AS TIMESTAMP)
            AND `t1`.`finished_at` < CAST('2026-11-01T00:00:00' AS TIMESTAMP)
            AND `t1`.`service` IN ('notifications', 'payments-ledger', 'search', 'storefront')
        ) AS `t8`
        LEFT OUTER JOIN (
          SELECT
            `t2`.`name` AS `s_name`,
            `t2`.`team` AS `s_team`,
            `t2`.`context` AS `s_context`
          FROM `headway_services` AS `t2`
        ) AS `t7`
          ON `t8`.`service` = `t7`.`s_name`
      ) AS `t9`
    ) AS `t11`
      ON `t5`.`deployment_id` = `t11`.`dep_id`
  ) AS `t12`
  GROUP BY
    1
) AS `t13`
