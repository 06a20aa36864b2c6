SELECT
  `t23`.`grp`,
  COUNT(*) AS `deployments`,
  SUM(CASE WHEN `t23`.`rework_id` IS NOT NULL THEN 1 ELSE 0 END) AS `rework`
FROM (
  SELECT
    `t19`.`id`,
    `t19`.`service`,
    `t19`.`started_at`,
    `t19`.`finished_at`,
    `t19`.`s_name`,
    `t19`.`s_team`,
    `t19`.`s_context`,
    `t19`.`grp`,
    `t22`.`rework_id`
  FROM (
    SELECT
      `t16`.`id`,
      `t16`.`service`,
      `t16`.`started_at`,
      `t16`.`finished_at`,
      `t16`.`s_name`,
      `t16`.`s_team`,
      `t16`.`s_context`,
      'organisation' AS `grp`
    FROM (
      SELECT
        `t13`.`id`,
        `t13`.`service`,
        `t13`.`started_at`,
        `t13`.`finished_at`,
        `t10`.`s_name`,
        `t10`.`s_team`,
        `t10`.`s_context`
      FROM (
        SELECT
          `t0`.`id`,
          `t0`.`service`,
          `t0`.`started_at`,
          `t0`.`finished_at`
        FROM `headway_deployments` AS `t0`
        WHERE
          `t0`.`status` IN ('success')
          AND `t0`.`kind` IN ('deploy', 'hotfix', 'rollback', 'release')
          AND `t0`.`environment` IN ('production')
          AND `t0`.`finished_at` >= CAST('2026-09-02T00:00:00' AS TIMESTAMP)
          AND `t0`.`finished_at` < CAST('2026-11-01T00:00:00' AS TIMESTAMP)
          AND `t0`.`service` IN ('notifications', 'payments-ledger', 'search', 'storefront')
      ) AS `t13`
      LEFT OUTER JOIN (
        SELECT
          `t1`.`name` AS `s_name`,
          `t1`.`team` AS `s_team`,
          `t1`.`context` AS `s_context`
        FROM `headway_services` AS `t1`
      ) AS `t10`
        ON `t13`.`service` = `t10`.`s_name`
    ) AS `t16`
  ) AS `t19`
  LEFT OUTER JOIN (
    SELECT
      *
    FROM (
      SELECT
        `t0`.`id` AS `rework_id`
      FROM `headway_deployments` AS `t0`
      WHERE
        `t0`.`recovers_id` IS NOT NULL
    ) AS `t8`
    UNION
    SELECT
      *
    FROM (
      SELECT
        `t17`.`rd_id` AS `rework_id`
      FROM (
        SELECT
          `t14`.`revert`,
          `t14`.`reverted_at`,
          `t14`.`reverts`,
          `t14`.`fix`,
          `t15`.`change`,
          `t15`.`shipped`,
          `t6`.`cd_id`,
          `t6`.`shipped_at`,
          `t7`.`rd_id`,
          `t7`.`fixed_at`
        FROM (
          SELECT
            `t2`.`id` AS `revert`,
            `t2`.`merged_at` AS `reverted_at`,
            `t2`.`reverts`,
            `t2`.`deployment_id` AS `fix`
          FROM `headway_changes` AS `t2`
          WHERE
            `t2`.`reverts` IS NOT NULL AND `t2`.`merged_at` IS NOT NULL
        ) AS `t14`
        INNER JOIN (
          SELECT
            `t2`.`id` AS `change`,
            `t2`.`deployment_id` AS `shipped`
          FROM `headway_changes` AS `t2`
          WHERE
            `t2`.`reverts` IS NULL
        ) AS `t15`
          ON `t14`.`reverts` = `t15`.`change`
        INNER JOIN (
          SELECT
            `t0`.`id` AS `cd_id`,
            `t0`.`finished_at` AS `shipped_at`
          FROM `headway_deployments` AS `t0`
        ) AS `t6`
          ON `t15`.`shipped` = `t6`.`cd_id`
        LEFT OUTER JOIN (
          SELECT
            `t0`.`id` AS `rd_id`,
            `t0`.`finished_at` AS `fixed_at`
          FROM `headway_deployments` AS `t0`
        ) AS `t7`
          ON `t14`.`fix` = `t7`.`rd_id`
      ) AS `t17`
      WHERE
        (
          (
            `t17`.`rd_id` IS NULL
          ) OR (
            `t17`.`fixed_at` > `t17`.`shipped_at`
          )
        )
        AND `t17`.`rd_id` IS NOT NULL
    ) AS `t20`
  ) AS `t22`
    ON `t19`.`id` = `t22`.`rework_id`
) AS `t23`
GROUP BY
  1
