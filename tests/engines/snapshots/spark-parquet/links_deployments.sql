SELECT
  `t4`.`link_id`,
  `t4`.`ref`,
  `t3`.`named`,
  CASE WHEN `t4`.`ref` IS NOT NULL THEN `t3`.`named` ELSE `t13`.`f_dep` END AS `recovers_id`
FROM (
  SELECT
    `t0`.`id` AS `link_id`,
    `t0`.`recovers` AS `ref`
  FROM `headway_deployments` AS `t0`
) AS `t4`
LEFT OUTER JOIN (
  SELECT
    `t0`.`id` AS `named`
  FROM `headway_deployments` AS `t0`
) AS `t3`
  ON `t4`.`ref` = `t3`.`named`
LEFT OUTER JOIN (
  SELECT
    `t11`.`event_id` AS `f_event`,
    `t11`.`deployment_id` AS `f_dep`
  FROM (
    SELECT
      `t10`.`event_id`,
      `t10`.`service`,
      `t10`.`t`,
      `t10`.`o`,
      `t10`.`dep_id`,
      `t10`.`run`,
      MAX(`t10`.`dep_id`) OVER (
        PARTITION BY `t10`.`service`, `t10`.`run`
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS `deployment_id`,
      MAX(
        CASE WHEN `t10`.`dep_id` IS NOT NULL THEN `t10`.`t` ELSE CAST(NULL AS TIMESTAMP) END
      ) OVER (
        PARTITION BY `t10`.`service`, `t10`.`run`
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS `dep_t`
    FROM (
      SELECT
        `t9`.`event_id`,
        `t9`.`service`,
        `t9`.`t`,
        `t9`.`o`,
        `t9`.`dep_id`,
        COUNT(`t9`.`dep_id`) OVER (
          PARTITION BY `t9`.`service`
          ORDER BY `t9`.`t` ASC NULLS LAST, `t9`.`o` ASC NULLS LAST
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS `run`
      FROM (
        SELECT
          *
        FROM (
          SELECT
            `t0`.`id` AS `event_id`,
            `t0`.`service`,
            `t0`.`finished_at` - INTERVAL '1' MICROSECOND AS `t`,
            1 AS `o`,
            CAST(NULL AS STRING) AS `dep_id`
          FROM `headway_deployments` AS `t0`
          WHERE
            `t0`.`status` = 'success'
            AND `t0`.`environment` IN ('production')
            AND `t0`.`kind` IN ('rollback', 'hotfix')
            AND `t0`.`recovers` IS NULL
        ) AS `t5`
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            CAST(NULL AS STRING) AS `event_id`,
            `t7`.`service`,
            `t7`.`t`,
            0 AS `o`,
            `t7`.`dep_id`
          FROM (
            SELECT
              `t6`.`service`,
              `t6`.`t`,
              MIN(`t6`.`id`) AS `dep_id`
            FROM (
              SELECT
                `t0`.`id`,
                `t0`.`service`,
                `t0`.`finished_at` AS `t`
              FROM `headway_deployments` AS `t0`
              WHERE
                `t0`.`status` = 'success'
                AND `t0`.`environment` IN ('production')
                AND `t0`.`kind` <> 'rollback'
            ) AS `t6`
            GROUP BY
              1,
              2
          ) AS `t7`
        ) AS `t8`
      ) AS `t9`
    ) AS `t10`
  ) AS `t11`
  WHERE
    `t11`.`event_id` IS NOT NULL AND `t11`.`deployment_id` IS NOT NULL
) AS `t13`
  ON `t4`.`link_id` = `t13`.`f_event`
